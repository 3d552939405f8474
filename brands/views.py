"""Website pages for styles (the library: public and one's own, upload, delete) and brand kits (list, create, edit
with the live logo preview, delete). Thin: each parses its form, calls brands.services, renders. Another user's
style or kit is a 404, as in the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from accounts.selectors import tier_limits
from gallery.selectors import signed_url

from . import selectors, services
from .forms import BrandKitForm, StyleForm, add_service_errors
from .models import BrandKit, Style


def _user(request: HttpRequest) -> User:
    """The signed-in user (every page here is login_required)."""
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def style_list(request: HttpRequest) -> HttpResponse:
    """The library (public styles, then the user's own) with the upload form."""
    form = StyleForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            style = services.style_create(owner=_user(request), **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The style %(name)s is in your library.") % {"name": style.name})
            return redirect("brands:styles")
    styles = list(selectors.styles_visible_to(user=_user(request)).order_by("owner_id", "name", "id"))
    return render(
        request,
        "brands/styles.html",
        {
            "form": form,
            "public_styles": [style for style in styles if style.is_public],
            "own_styles": [style for style in styles if not style.is_public],
            "max_private_styles": tier_limits(_user(request).tier).max_private_styles,
        },
        status=400 if form.errors else 200,
    )


def _own_style(request: HttpRequest, pk: int) -> Style:
    """One of the user's private styles; a public one or another user's is a 404 (only staff edit the library)."""
    try:
        style = selectors.style_get(user=_user(request), style_id=pk)
    except Style.DoesNotExist:
        raise Http404(_("No such style.")) from None
    if style.owner_id != _user(request).pk:
        raise Http404(_("No such style."))
    return style


@login_required
@require_POST
def style_delete(request: HttpRequest, pk: int) -> HttpResponse:
    style = _own_style(request, pk)
    try:
        services.style_delete(style=style)
    except services.StyleInUse as error:  # an unfinished job still loads it
        messages.error(request, str(error))
    else:
        messages.success(request, _("The style %(name)s is deleted.") % {"name": style.name})
    return redirect("brands:styles")


@login_required
@require_GET
def kit_list(request: HttpRequest) -> HttpResponse:
    kits = list(selectors.brand_kits_of(user=_user(request)))
    return render(
        request,
        "brands/kits.html",
        {
            "kits": [(kit, _logo_url(kit)) for kit in kits],
            "max_brand_kits": tier_limits(_user(request).tier).max_brand_kits,
        },
    )


def _logo_url(kit: BrandKit | None) -> str:
    return signed_url(str(kit.logo.name)) if kit is not None and kit.logo else ""


def _own_kit(request: HttpRequest, pk: int) -> BrandKit:
    try:
        return selectors.brand_kit_get(user=_user(request), kit_id=pk)
    except BrandKit.DoesNotExist:
        raise Http404(_("No such brand kit.")) from None


def _kit_page(request: HttpRequest, form: BrandKitForm, kit: BrandKit | None) -> HttpResponse:
    return render(
        request,
        "brands/kit_form.html",
        {"form": form, "kit": kit, "logo_url": _logo_url(kit)},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def kit_create(request: HttpRequest) -> HttpResponse:
    form = BrandKitForm(request.POST or None, request.FILES or None, user=_user(request))
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            kit = services.brand_kit_create(owner=_user(request), **fields)
        except ValidationError as error:
            add_service_errors(form, error, aliases={"default_styles": "styles"})
        else:
            messages.success(request, _("The brand kit %(name)s is saved.") % {"name": kit.name})
            return redirect("brands:kit-edit", pk=kit.pk)
    return _kit_page(request, form, None)


@login_required
@require_http_methods(["GET", "POST"])
def kit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    kit = _own_kit(request, pk)
    form = BrandKitForm(request.POST or None, request.FILES or None, user=_user(request), kit=kit)
    if request.method == "POST" and form.is_valid():
        try:
            kit = services.brand_kit_update(kit=kit, **form.service_fields())
        except ValidationError as error:
            add_service_errors(form, error, aliases={"default_styles": "styles"})
        else:
            messages.success(request, _("The brand kit %(name)s is saved.") % {"name": kit.name})
            return redirect("brands:kit-edit", pk=kit.pk)
    return _kit_page(request, form, kit)


@login_required
@require_POST
def kit_delete(request: HttpRequest, pk: int) -> HttpResponse:
    kit = _own_kit(request, pk)
    services.brand_kit_delete(kit=kit)
    messages.success(request, _("The brand kit %(name)s is deleted.") % {"name": kit.name})
    return redirect("brands:kits")
