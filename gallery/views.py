import mimetypes

from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from .selectors import key_from_token


def signed_file(request, token: str) -> FileResponse:
    """Local storage's stand-in for a presigned URL: the token names the file and expires."""
    try:
        name = key_from_token(token)
    except signing.BadSignature:
        raise Http404("This link is invalid or has expired.") from None
    if not default_storage.exists(name):
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
