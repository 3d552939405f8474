import uuid

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import services
from .forms import GrantCreditsForm
from .models import ApiKey, CreditEntry, IdempotencyRecord, Tier, User


class CreditEntryInline(admin.TabularInline):
    model = CreditEntry
    fk_name = "user"
    fields = ("created_at", "kind", "amount", "reserved_change", "reason", "job", "created_by")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = gettext_lazy("Credit ledger (newest first)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("job", "created_by")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "tier", "credit_balance", "credits_reserved", "is_staff", "is_active", "date_joined")
    list_filter = ("tier", "is_staff", "is_superuser", "is_active", ("email_verified_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("credit_balance", "credits_reserved", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (gettext_lazy("Personal info"), {"fields": ("first_name", "last_name")}),
        (gettext_lazy("Plan and credits"), {"fields": ("tier", "credit_balance", "credits_reserved")}),
        (
            gettext_lazy("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (gettext_lazy("Important dates"), {"fields": ("last_login", "date_joined", "email_verified_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "tier", "password1", "password2")}),)
    inlines = (CreditEntryInline,)
    actions = ("grant_credits", "suspend_users", "reactivate_users")

    @admin.action(description=gettext_lazy("Grant or refund credits…"), permissions=["change"])
    def grant_credits(self, request, queryset):
        """An intermediate form; its token makes the grant idempotent per invocation (a double submit grants once)."""
        if "apply" in request.POST:
            form = GrantCreditsForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                granted = 0
                for user in queryset:
                    try:
                        services.grant_credits(
                            user=user,
                            amount=data["amount"],
                            reason=data["reason"],
                            kind=data["kind"],
                            idempotency_key=f"admin:{data['token']}:{user.pk}",
                            created_by=request.user,
                        )
                    except ValidationError as error:
                        self.message_user(request, f"{user.email}: {'; '.join(error.messages)}", messages.ERROR)
                    else:
                        granted += 1
                self.message_user(
                    request,
                    ngettext(
                        "%(amount)s credits (%(kind)s) written for %(count)s user.",
                        "%(amount)s credits (%(kind)s) written for %(count)s users.",
                        granted,
                    )
                    % {"amount": data["amount"], "kind": data["kind"], "count": granted},
                    messages.SUCCESS,
                )
                return None
        else:
            form = GrantCreditsForm(initial={"token": uuid.uuid4()})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Grant or refund credits"),
            "form": form,
            "users": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "accounts/admin_grant_credits.html", context)

    @admin.action(
        description=gettext_lazy("Suspend selected users (their queued jobs are canceled)"), permissions=["change"]
    )
    def suspend_users(self, request, queryset):
        canceled = sum(services.suspend_user(user=user) for user in queryset.exclude(pk=request.user.pk))
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, _("You cannot suspend your own account."), messages.WARNING)
        self.message_user(
            request,
            ngettext(
                "Suspended; %(count)s queued job canceled and its credits released.",
                "Suspended; %(count)s queued jobs canceled and their credits released.",
                canceled,
            )
            % {"count": canceled},
        )

    @admin.action(description=gettext_lazy("Reactivate selected users"), permissions=["change"])
    def reactivate_users(self, request, queryset):
        for user in queryset.filter(is_active=False):
            services.reactivate_user(user=user)
        self.message_user(request, _("Reactivated the selected users."))


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    """The ledger is append-only: rows are written by services, never edited here."""

    list_display = ("created_at", "user", "kind", "amount", "reserved_change", "reason", "job", "created_by")
    list_filter = ("kind",)
    search_fields = ("user__email", "reason", "idempotency_key")
    list_select_related = ("user", "job", "created_by")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in CreditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "monthly_credits",
        "max_running_jobs",
        "max_queued_jobs",
        "submit_rate",
        "read_rate",
        "max_images_per_job",
        "max_side",
        "max_source_pixels",
        "max_upscale_factor",
        "queue_weight",
        "max_batch_jobs",
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "user__email", "prefix")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    @admin.action(description=gettext_lazy("Revoke selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_key(key=key)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("key", "user", "response_status", "created_at")
    search_fields = ("key", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "key", "request_hash", "response_status", "response_body", "created_at")

    def has_add_permission(self, request):
        return False
