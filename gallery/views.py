"""Website pages for the gallery: the grid with folders, tags, favourites and search, one image's page, the trash,
multi-select actions (zip download, move, favourite, trash) and share links; local storage's signed file view and
the public page of a share link. Every owned object is looked up through a selector that starts from request.user,
so another user's id is a 404."""

from __future__ import annotations

import datetime as dt
import mimetypes
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from generation.engine.paths import PATH_CHOICES

from . import selectors, services
from .api import ZIP_MAX_IMAGES
from .downloads import zip_response
from .filters import UNFILED, ImageFilter
from .models import Folder, GeneratedImage, ShareLink, Tag

SHARE_PAGE_SIZE = 60
# The page shows images from presigned URLs (any S3 host) and nothing else: no scripts, no forms.
SHARE_PAGE_CSP = (
    "default-src 'none'; img-src 'self' https: http:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@require_GET
def signed_file(request: HttpRequest, token: str) -> FileResponse:
    """Local storage's stand-in for a presigned URL: the token names the file, its download name, and expires."""
    try:
        name, download_as = selectors.file_from_token(token)
    except signing.BadSignature:
        raise Http404(_("This link is invalid or has expired.")) from None
    if not default_storage.exists(name):
        raise Http404(_("No such file."))
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(
        default_storage.open(name, "rb"),
        content_type=content_type,
        as_attachment=bool(download_as),
        filename=_download_filename(download_as, name) if download_as else "",
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _download_filename(signed_name: str, key: str) -> str:
    """The signed name, made safe, always with the stored file's own extension (a .png stays a .png)."""
    stem = Path(get_valid_filename(signed_name) or "zimage").stem or "zimage"
    return f"{stem}{Path(key).suffix}"


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    """The public page of a share link: no login, the token is the credential. Gone links are a 404."""
    link = selectors.active_share_link(token)
    if link is None:
        raise Http404(_("This link does not exist, has expired or was revoked."))
    page = Paginator(selectors.shared_images(link), SHARE_PAGE_SIZE).get_page(request.GET.get("page"))
    items = [{"image": image, **selectors.shared_image_urls(services.share_copies(image=image))} for image in page]
    response = render(request, "gallery/share.html", {"link": link, "page": page, "items": items})
    response["Content-Security-Policy"] = SHARE_PAGE_CSP
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to the storage host
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


GALLERY_PAGE_SIZE = 48
SHARE_EXPIRY_CHOICES = [
    ("", gettext_lazy("Never expires")),
    ("1", gettext_lazy("1 day")),
    ("7", gettext_lazy("7 days")),
    ("30", gettext_lazy("30 days")),
]
BULK_ACTIONS = [
    ("download", gettext_lazy("Download as zip")),
    ("favourite", gettext_lazy("Add to favourites")),
    ("unfavourite", gettext_lazy("Remove from favourites")),
    ("move", gettext_lazy("Move to folder")),
    ("tag", gettext_lazy("Add tags")),
    ("trash", gettext_lazy("Move to trash")),
]


def folder_choices(user, *, blank: str) -> list[tuple[str, str]]:
    choices = [("", blank)]
    for folder in selectors.folders_for(user).select_related("parent"):
        label = f"{folder.parent.name} / {folder.name}" if folder.parent_id else folder.name
        choices.append((str(folder.pk), label))
    return choices


class FolderForm(forms.Form):
    name = forms.CharField(max_length=100, label=gettext_lazy("Folder name"))
    parent = forms.ChoiceField(required=False, label=gettext_lazy("Inside"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        roots = selectors.folders_for(user).filter(parent__isnull=True)
        self.fields["parent"].choices = [("", _("Top level")), *((str(f.pk), f.name) for f in roots)]


class OrganiseForm(forms.Form):
    folder = forms.ChoiceField(required=False, label=gettext_lazy("Folder"))
    tags = forms.CharField(
        required=False,
        max_length=1000,
        label=gettext_lazy("Tags"),
        help_text=gettext_lazy("Separate tags with commas."),
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("summer, campaign")}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].choices = folder_choices(user, blank=_("No folder"))

    def tag_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]


class ShareForm(forms.Form):
    expires_in_days = forms.ChoiceField(
        required=False, choices=SHARE_EXPIRY_CHOICES, label=gettext_lazy("Link expires")
    )

    def expires_at(self) -> dt.datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + dt.timedelta(days=int(days)) if days else None


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=BULK_ACTIONS, label=gettext_lazy("Action"))
    folder = forms.ChoiceField(required=False, label=gettext_lazy("Folder"))
    tags = forms.CharField(required=False, max_length=500, label=gettext_lazy("Tags"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].choices = folder_choices(user, blank=_("No folder"))

    def clean_tags(self) -> list[str]:
        """Comma-separated tag names, for "Add tags"; each one as the gallery's tags allow."""
        names = [name.strip() for name in self.cleaned_data.get("tags", "").split(",") if name.strip()]
        longest = Tag._meta.get_field("name").max_length or 0
        if any(len(name) > longest for name in names):
            raise ValidationError(_("A tag name is at most %(count)s characters.") % {"count": longest})
        return names

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "tag" and not cleaned.get("tags") and "tags" not in self.errors:
            self.add_error("tags", _("Name at least one tag to add."))
        try:
            ids = [uuid.UUID(value) for value in self.data.getlist("ids")]
        except ValueError:
            raise ValidationError(_("Some selected images are not valid.")) from None
        if not ids:
            raise ValidationError(_("Select at least one image."))
        if len(ids) > ZIP_MAX_IMAGES:
            raise ValidationError(_("Select at most %(count)s images at once.") % {"count": ZIP_MAX_IMAGES})
        cleaned["ids"] = ids
        return cleaned


def _owned_folder(user, value: str | None) -> Folder | None:
    if not value:
        return None
    return get_object_or_404(selectors.folders_for(user), pk=value if str(value).isdigit() else 0)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


def _with_urls(request: HttpRequest, links) -> list[tuple[ShareLink, str]]:
    """Each share link with the public address to hand out."""
    return [(link, request.build_absolute_uri(reverse("gallery:share", args=[link.token]))) for link in links]


def _report(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def _parent_for_new_folder(folder: Folder | None) -> int | str:
    """A new folder made while looking at a top-level folder goes inside it (folders nest one level)."""
    return folder.pk if folder is not None and folder.parent_id is None else ""


# --- The grid ------------------------------------------------------------------------------------


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    """The grid, narrowed by the same filters as the images API (gallery.filters); unreadable ones are ignored."""
    user = request.user
    filters = ImageFilter(request.GET, queryset=selectors.live_images_for(user).select_related("job"))
    page = Paginator(filters.qs, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    if ignored := filters.filter_names_with_errors():
        messages.warning(
            request, _("These filters could not be read and were ignored: %(names)s.") % {"names": ", ".join(ignored)}
        )
    values = filters.form.cleaned_data
    folder = _owned_folder(user, values["folder"]) if isinstance(values.get("folder"), int) else None
    folder_param = str(folder.pk) if folder else (UNFILED if values.get("folder") == UNFILED else "")
    path = values.get("path") or ""
    favourite = values.get("favourite") is True
    tag = values.get("tag") or ""
    query = values.get("q") or ""
    folders = list(selectors.folders_for(user))
    roots = [f for f in folders if f.parent_id is None]
    children = {root.pk: [f for f in folders if f.parent_id == root.pk] for root in roots}
    share_links = []
    if folder is not None:
        share_links = _with_urls(request, selectors.share_links_for(user).active().filter(folder=folder))
    return render(
        request,
        "gallery/pages/list.html",
        {
            "page": page,
            "folder": folder,
            "folder_param": folder_param,
            "folder_tree": [(root, children[root.pk]) for root in roots],
            "tags": selectors.tags_for(user),
            "tag": tag,
            "path": path,
            "favourite": favourite,
            "query": query,
            "filtered": bool(folder_param or tag or path or favourite or query),
            "paths": PATH_CHOICES,
            "folder_form": FolderForm(user=user, initial={"parent": _parent_for_new_folder(folder)}),
            "bulk_actions": BULK_ACTIONS,
            "bulk_folders": folder_choices(user, blank=_("No folder")),
            "share_form": ShareForm(),
            "share_links": share_links,
            "trash_count": selectors.trashed_images_for(user).count(),
        },
    )


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """One action on the selected images: a zip of their originals, or a change to each of them."""
    form = BulkForm(request.POST, user=request.user)
    fallback = reverse("gallery:list")
    if not form.is_valid():
        errors = [_("Tags: %(error)s") % {"error": error} for error in form.errors.get("tags", [])]
        errors += form.non_field_errors() or ([] if errors else [_("Choose what to do with the selected images.")])
        for error in errors:
            messages.error(request, error)
        return _back(request, fallback)
    images = selectors.images_by_uuid(request.user, form.cleaned_data["ids"])
    if not images:
        messages.error(request, _("None of the selected images exist any more."))
        return _back(request, fallback)
    action = form.cleaned_data["action"]
    if action == "download":
        entries = [(selectors.download_name(image), image.file.name) for image in images]
        return zip_response(
            entries, filename=f"zimage-{len(entries)}-images.zip", asynchronous=isinstance(request, ASGIRequest)
        )
    if action == "move":
        folder = _owned_folder(request.user, form.cleaned_data.get("folder"))
        for image in images:
            services.move_to_folder(image=image, folder=folder)
        count = len(images)
        if folder:
            message = ngettext(
                "Moved %(count)s image to “%(folder)s”.", "Moved %(count)s images to “%(folder)s”.", count
            ) % {"count": count, "folder": folder.name}
        else:
            message = ngettext(
                "Moved %(count)s image out of its folder.", "Moved %(count)s images out of their folders.", count
            ) % {"count": count}
        messages.success(request, message)
    elif action == "tag":
        services.tag_images(images=images, names=form.cleaned_data["tags"])
        messages.success(
            request,
            ngettext("Tagged %(count)s image.", "Tagged %(count)s images.", len(images)) % {"count": len(images)},
        )
    elif action in ("favourite", "unfavourite"):
        for image in images:
            services.set_favourite(image=image, is_favourite=action == "favourite")
        messages.success(
            request,
            ngettext("Updated %(count)s image.", "Updated %(count)s images.", len(images)) % {"count": len(images)},
        )
    elif action == "trash":
        for image in images:
            services.trash_image(image=image)
        messages.success(
            request,
            ngettext("Moved %(count)s image to the trash.", "Moved %(count)s images to the trash.", len(images))
            % {"count": len(images)},
        )
    return _back(request, fallback)


# --- One image -----------------------------------------------------------------------------------


def _live_image(request: HttpRequest, pk) -> GeneratedImage:
    return get_object_or_404(selectors.live_images_for(request.user).select_related("job"), uuid=pk)


@login_required
@require_GET
def image_detail(request: HttpRequest, pk) -> HttpResponse:
    return image_page(request, _live_image(request, pk))


def image_page(request: HttpRequest, image: GeneratedImage, *, status: int = 200, **extra) -> HttpResponse:
    """One image's page; `extra` reaches the template (generation's image actions pass their bound forms)."""
    links = selectors.share_links_for(request.user).active().filter(image=image)
    return render(
        request,
        "gallery/pages/image.html",
        {
            "image": image,
            "job": image.job,
            "tags": sorted(tag.name for tag in image.tags.all()),
            "organise_form": OrganiseForm(
                user=request.user,
                initial={"folder": image.folder_id or "", "tags": ", ".join(sorted(t.name for t in image.tags.all()))},
            ),
            "share_form": ShareForm(),
            "share_links": _with_urls(request, links),
            **extra,
        },
        status=status,
    )


@login_required
@require_POST
def image_favourite(request: HttpRequest, pk) -> HttpResponse:
    image = _live_image(request, pk)
    services.set_favourite(image=image, is_favourite=request.POST.get("is_favourite") == "1")
    return _back(request, reverse("gallery:image", args=[image.uuid]))


@login_required
@require_POST
def image_organise(request: HttpRequest, pk) -> HttpResponse:
    image = _live_image(request, pk)
    form = OrganiseForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.update_image(
                image=image,
                folder=_owned_folder(request.user, form.cleaned_data.get("folder")),
                move=True,
                tags=form.tag_names(),
            )
        except ValidationError as error:
            _report(request, error)
        else:
            messages.success(request, _("Saved."))
    else:
        messages.error(request, _("Choose a folder from the list and keep tags under 50 characters each."))
    return redirect("gallery:image", pk=image.uuid)


@login_required
@require_POST
def image_trash(request: HttpRequest, pk) -> HttpResponse:
    image = _live_image(request, pk)
    services.trash_image(image=image)
    days = settings.GALLERY_TRASH_DAYS
    messages.success(
        request,
        ngettext("The image is in the trash for %(days)s day.", "The image is in the trash for %(days)s days.", days)
        % {"days": days},
    )
    return redirect("gallery:list")


@login_required
@require_POST
def image_share(request: HttpRequest, pk) -> HttpResponse:
    image = _live_image(request, pk)
    form = ShareForm(request.POST)
    if form.is_valid():
        try:
            services.create_share_link(owner=request.user, image=image, expires_at=form.expires_at())
        except ValidationError as error:
            _report(request, error)
        else:
            messages.success(request, _("Share link created. Anyone with the link can see this image."))
    return redirect("gallery:image", pk=image.uuid)


# --- Folders and share links ---------------------------------------------------------------------


@login_required
@require_POST
def folder_create(request: HttpRequest) -> HttpResponse:
    form = FolderForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, _("Give the folder a name (at most 100 characters)."))
        return redirect("gallery:list")
    try:
        folder = services.create_folder(
            owner=request.user,
            name=form.cleaned_data["name"],
            parent=_owned_folder(request.user, form.cleaned_data.get("parent")),
        )
    except ValidationError as error:
        _report(request, error)
        return redirect("gallery:list")
    messages.success(request, _("Folder “%(name)s” created.") % {"name": folder.name})
    return redirect(f"{reverse('gallery:list')}?folder={folder.pk}")


@login_required
@require_POST
def folder_delete(request: HttpRequest, pk: int) -> HttpResponse:
    folder = get_object_or_404(selectors.folders_for(request.user), pk=pk)
    name = folder.name
    services.delete_folder(folder=folder)
    messages.success(request, _("Folder “%(name)s” deleted; its images are still in your gallery.") % {"name": name})
    return redirect("gallery:list")


@login_required
@require_POST
def folder_share(request: HttpRequest, pk: int) -> HttpResponse:
    folder = get_object_or_404(selectors.folders_for(request.user), pk=pk)
    form = ShareForm(request.POST)
    if form.is_valid():
        try:
            services.create_share_link(owner=request.user, folder=folder, expires_at=form.expires_at())
        except ValidationError as error:
            _report(request, error)
        else:
            messages.success(request, _("Share link for “%(name)s” created.") % {"name": folder.name})
    return redirect(f"{reverse('gallery:list')}?folder={folder.pk}")


@login_required
@require_POST
def share_link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    link: ShareLink = get_object_or_404(selectors.share_links_for(request.user), pk=pk)
    services.revoke_share_link(link=link)
    messages.success(request, _("The share link is revoked; it no longer opens."))
    return _back(request, reverse("gallery:list"))


# --- Trash ---------------------------------------------------------------------------------------


@login_required
@require_GET
def trash(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.trashed_images_for(request.user), GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "gallery/pages/trash.html", {"page": page, "trash_days": settings.GALLERY_TRASH_DAYS})


@login_required
@require_POST
def trash_restore(request: HttpRequest, pk) -> HttpResponse:
    image = get_object_or_404(selectors.trashed_images_for(request.user), uuid=pk)
    services.restore_image(image=image)
    messages.success(request, _("Image restored to your gallery."))
    return redirect("gallery:trash")


@login_required
@require_POST
def trash_empty(request: HttpRequest) -> HttpResponse:
    purged = services.empty_trash(owner=request.user, everything=True)
    messages.success(
        request,
        ngettext("Deleted %(count)s image for good.", "Deleted %(count)s images for good.", purged) % {"count": purged},
    )
    return redirect("gallery:trash")
