"""Pages without the API: local storage's signed file view, and the public page of a share link."""

import mimetypes

from django.core import signing
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import get_valid_filename
from django.views.decorators.http import require_GET

from . import selectors

SHARE_PAGE_SIZE = 60
# The page shows images from presigned URLs (any S3 host) and nothing else: no scripts, no forms.
SHARE_PAGE_CSP = (
    "default-src 'none'; img-src 'self' https: http:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@require_GET
def signed_file(request: HttpRequest, token: str) -> FileResponse:
    """Local storage's stand-in for a presigned URL: the token names the file and expires."""
    try:
        name = selectors.key_from_token(token)
    except signing.BadSignature:
        raise Http404("This link is invalid or has expired.") from None
    if not default_storage.exists(name):
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    download_as = request.GET.get("download")
    response = FileResponse(
        default_storage.open(name, "rb"),
        content_type=content_type,
        as_attachment=bool(download_as),
        filename=get_valid_filename(download_as) if download_as else "",
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    """The public page of a share link: no login, the token is the credential. Gone links are a 404."""
    link = selectors.active_share_link(token)
    if link is None:
        raise Http404("This link does not exist, has expired or was revoked.")
    page = Paginator(selectors.shared_images(link), SHARE_PAGE_SIZE).get_page(request.GET.get("page"))
    items = [
        {"image": image, **selectors.image_urls(image), "download": selectors.download_url(image)} for image in page
    ]
    response = render(request, "gallery/share.html", {"link": link, "page": page, "items": items})
    response["Content-Security-Policy"] = SHARE_PAGE_CSP
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to the storage host
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response
