"""REST endpoints for the gallery: thin views over gallery.services and gallery.selectors.

Every object is looked up through a selector that starts from request.user, so another user's id is a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ModelSerializer, Pagination, StrictSerializer
from core.openapi import error_response

from . import selectors, services
from .downloads import zip_response
from .filters import ImageFilter
from .models import Folder, GeneratedImage, ShareLink, SourceImage, SourceKind, Tag

ZIP_MAX_IMAGES = 200


class OwnedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A reference to one of the requesting user's objects; anyone else's reads as "does not exist"."""

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(queryset=model.objects.none(), **kwargs)

    def get_queryset(self):
        return self.model.objects.filter(owner=self.context["request"].user)


# --- Images -------------------------------------------------------------------------------------


class GalleryImageSerializer(ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True)
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    folder = serializers.IntegerField(source="folder_id", read_only=True, allow_null=True)
    prompt = serializers.CharField(source="prompt_used", read_only=True)
    negative_prompt = serializers.CharField(source="negative_prompt_used", read_only=True)
    tags = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    class Meta:
        model = GeneratedImage
        fields = (
            "id",
            "job",
            "index",
            "image_type",
            "width",
            "height",
            "seed",
            "model",
            "backend",
            "steps",
            "guidance",
            "prompt",
            "negative_prompt",
            "production_path",
            "template",
            "is_favourite",
            "folder",
            "tags",
            "created_at",
            "deleted_at",
            "urls",
        )
        read_only_fields = fields

    def get_tags(self, image) -> list[str]:
        return sorted(tag.name for tag in image.tags.all())

    def get_urls(self, image) -> dict[str, str]:
        """Signed and expiring; `download` saves the PNG (its metadata embedded) under a readable name, with the
        brand kit's logo when one was put on it; `original_download` the model's image before the logo ("": none)."""
        return {
            **selectors.image_urls(image),
            "download": selectors.download_url(image),
            "original_download": selectors.original_download_url(image),
        }


class ImageUpdateSerializer(StrictSerializer):
    is_favourite = serializers.BooleanField(required=False)
    folder = OwnedPrimaryKeyField(Folder, required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=50, required=False)


def _image_response(user, uuid, status_code: int = status.HTTP_200_OK) -> Response:
    image = selectors.images_for(user).select_related("template").prefetch_related("tags").get(uuid=uuid)
    return Response(GalleryImageSerializer(image).data, status=status_code)


class ImageListView(generics.ListAPIView):
    """The user's images (trash excluded), newest first, with optional filters."""

    serializer_class = GalleryImageSerializer
    filterset_class = ImageFilter

    def get_queryset(self):
        return selectors.live_images_for(self.request.user)


class ImageDetailView(APIView):
    def get_object(self, request, pk) -> GeneratedImage:
        return get_object_or_404(selectors.live_images_for(request.user), uuid=pk)

    @extend_schema(responses={200: GalleryImageSerializer})
    def get(self, request, pk):
        return Response(GalleryImageSerializer(self.get_object(request, pk)).data)

    @extend_schema(request=ImageUpdateSerializer, responses={200: GalleryImageSerializer})
    def patch(self, request, pk):
        """Set the favourite flag, move to a folder (null: no folder), or replace the tags (by name)."""
        image = self.get_object(request, pk)
        serializer = ImageUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.update_image(
            image=image,
            is_favourite=data.get("is_favourite"),
            folder=data.get("folder"),
            move="folder" in data,
            tags=data.get("tags"),
        )
        return _image_response(request.user, image.uuid)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        """Move to the trash; restorable until the trash empties (GALLERY_TRASH_DAYS)."""
        services.trash_image(image=self.get_object(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageRestoreView(APIView):
    @extend_schema(request=None, responses={200: GalleryImageSerializer})
    def post(self, request, pk):
        image = get_object_or_404(selectors.images_for(request.user), uuid=pk)
        services.restore_image(image=image)
        return _image_response(request.user, image.uuid)


class SignedUrlSerializer(serializers.Serializer):
    url = serializers.CharField()
    expires_in = serializers.IntegerField()


class ImageDownloadView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("redirect", OpenApiTypes.BOOL, description="false: answer the URL as JSON"),
            OpenApiParameter(
                "variant",
                OpenApiTypes.STR,
                enum=["image", "original"],
                description="original: the model's image before the brand kit's logo (404 when no logo was put on)",
            ),
        ],
        responses={302: None, 200: SignedUrlSerializer},
    )
    def get(self, request, pk):
        """The PNG, metadata embedded: a redirect to a signed, expiring URL (or that URL as JSON)."""
        image = get_object_or_404(selectors.live_images_for(request.user), uuid=pk)
        variant = request.query_params.get("variant", "image")
        if variant not in {"image", "original"}:
            raise exceptions.ValidationError({"variant": [_("image or original.")]})
        url = selectors.original_download_url(image) if variant == "original" else selectors.download_url(image)
        if not url:
            raise exceptions.NotFound(_("This image has no logo, so no separate original."))
        if request.query_params.get("redirect", "true").lower() in {"false", "0", "no"}:
            return Response({"url": url, "expires_in": settings.SIGNED_URL_EXPIRY})
        return HttpResponseRedirect(url)


class ZipRequestSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=ZIP_MAX_IMAGES)


class ImageZipView(APIView):
    @extend_schema(request=ZipRequestSerializer, responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def post(self, request):
        """A zip of the selected originals, streamed as it is read from storage."""
        serializer = ZipRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wanted = list(dict.fromkeys(serializer.validated_data["ids"]))
        images = selectors.images_by_uuid(request.user, wanted)
        if len(images) != len(wanted):
            raise exceptions.NotFound(_("Some of these images do not exist."))
        entries = [(selectors.download_name(image), image.file.name) for image in images]
        return zip_response(
            entries,
            filename=f"zimage-{len(entries)}-images.zip",
            asynchronous=isinstance(request._request, ASGIRequest),
        )


# --- Uploads (source images and masks for jobs) ----------------------------------------------------


class SourceImageSerializer(ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.SerializerMethodField(help_text="Signed; expires.")

    class Meta:
        model = SourceImage
        fields = ("id", "kind", "width", "height", "sha256", "byte_size", "created_at", "url")
        read_only_fields = fields

    def get_url(self, source: SourceImage) -> str:
        return selectors.source_image_urls(source)["url"]


class UploadSerializer(StrictSerializer):
    file = serializers.FileField(help_text="PNG, JPEG or WebP; re-encoded to PNG, metadata dropped.")
    kind = serializers.ChoiceField(choices=SourceKind.choices, default=SourceKind.IMAGE)


class UploadListView(generics.ListCreateAPIView):
    """Images you uploaded to start jobs from (and masks), newest first."""

    serializer_class = SourceImageSerializer

    def get_queryset(self):
        return selectors.source_images_for(self.request.user)

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: SourceImageSerializer})
    def post(self, request):
        """Upload an image (multipart field `file`): checked, re-encoded and stored privately."""
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = services.store_source_image(owner=request.user, file=data["file"], kind=data["kind"])
        return Response(SourceImageSerializer(source).data, status=status.HTTP_201_CREATED)


class UploadDetailView(APIView):
    def get_object(self, request, pk) -> SourceImage:
        return get_object_or_404(selectors.source_images_for(request.user), uuid=pk)

    @extend_schema(responses={200: SourceImageSerializer})
    def get(self, request, pk):
        return Response(SourceImageSerializer(self.get_object(request, pk)).data)

    @extend_schema(request=None, responses={204: None, 409: error_response(409)})
    def delete(self, request, pk):
        """Delete the upload and its file; 409 while a queued or running job still reads it."""
        services.delete_source_image(source=self.get_object(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrashListView(generics.ListAPIView):
    """Images in the trash, most recently deleted first; each is purged GALLERY_TRASH_DAYS after deletion."""

    serializer_class = GalleryImageSerializer

    def get_queryset(self):
        return selectors.trashed_images_for(self.request.user)


class TrashItemView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        """Delete one trashed image for good, with its stored files."""
        image = get_object_or_404(selectors.trashed_images_for(request.user), uuid=pk)
        services.purge_images(images=GeneratedImage.objects.filter(pk=image.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PurgedSerializer(serializers.Serializer):
    purged = serializers.IntegerField()


class TrashEmptyView(APIView):
    @extend_schema(request=None, responses={200: PurgedSerializer})
    def post(self, request):
        """Empty the trash now, for good."""
        return Response({"purged": services.empty_trash(owner=request.user, everything=True)})


# --- Folders and tags ---------------------------------------------------------------------------


class FolderSerializer(ModelSerializer):
    parent = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)

    class Meta:
        model = Folder
        fields = ("id", "name", "parent", "created_at")
        read_only_fields = fields


class FolderWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    parent = OwnedPrimaryKeyField(Folder, required=False, allow_null=True)


class FolderListView(generics.ListAPIView):
    serializer_class = FolderSerializer

    def get_queryset(self):
        return selectors.folders_for(self.request.user)

    @extend_schema(request=FolderWriteSerializer, responses={201: FolderSerializer})
    def post(self, request):
        serializer = FolderWriteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        folder = services.create_folder(owner=request.user, **serializer.validated_data)
        return Response(FolderSerializer(folder).data, status=status.HTTP_201_CREATED)


class FolderDetailView(APIView):
    def get_object(self, request, pk) -> Folder:
        return get_object_or_404(selectors.folders_for(request.user), pk=pk)

    @extend_schema(responses={200: FolderSerializer})
    def get(self, request, pk):
        return Response(FolderSerializer(self.get_object(request, pk)).data)

    @extend_schema(request=FolderWriteSerializer, responses={200: FolderSerializer})
    def patch(self, request, pk):
        folder = self.get_object(request, pk)
        serializer = FolderWriteSerializer(data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        folder = services.update_folder(
            folder=folder, name=data.get("name"), parent=data.get("parent"), move="parent" in data
        )
        return Response(FolderSerializer(folder).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        """Deletes the folder and its subfolders; their images stay, in no folder."""
        services.delete_folder(folder=self.get_object(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagSerializer(ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name", "created_at")
        read_only_fields = fields


class TagWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=50)


class TagListView(generics.ListAPIView):
    serializer_class = TagSerializer

    def get_queryset(self):
        return selectors.tags_for(self.request.user)

    @extend_schema(request=TagWriteSerializer, responses={201: TagSerializer})
    def post(self, request):
        serializer = TagWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tag = services.create_tag(owner=request.user, **serializer.validated_data)
        return Response(TagSerializer(tag).data, status=status.HTTP_201_CREATED)


class TagDetailView(APIView):
    def get_object(self, request, pk) -> Tag:
        return get_object_or_404(selectors.tags_for(request.user), pk=pk)

    @extend_schema(responses={200: TagSerializer})
    def get(self, request, pk):
        return Response(TagSerializer(self.get_object(request, pk)).data)

    @extend_schema(request=TagWriteSerializer, responses={200: TagSerializer})
    def patch(self, request, pk):
        tag = self.get_object(request, pk)
        serializer = TagWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(TagSerializer(services.rename_tag(tag=tag, **serializer.validated_data)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        services.delete_tag(tag=self.get_object(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Share links --------------------------------------------------------------------------------


class ShareLinkSerializer(ModelSerializer):
    image = serializers.SerializerMethodField()
    folder = serializers.IntegerField(source="folder_id", read_only=True, allow_null=True)
    is_active = serializers.BooleanField(read_only=True)
    url = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = ShareLink
        fields = (
            "id",
            "token",
            "url",
            "api_url",
            "image",
            "folder",
            "created_at",
            "expires_at",
            "revoked_at",
            "is_active",
        )
        read_only_fields = fields

    def get_image(self, link) -> str | None:
        return str(link.image.uuid) if link.image_id else None

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_url(self, link) -> str:
        return self._absolute(reverse("gallery:share", kwargs={"token": link.token}))

    def get_api_url(self, link) -> str:
        return self._absolute(reverse("gallery-api:public-share", kwargs={"token": link.token}))


class ShareLinkCreateSerializer(StrictSerializer):
    image = serializers.UUIDField(required=False, help_text="The id of one of your images.")
    folder = OwnedPrimaryKeyField(Folder, required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_image(self, value) -> GeneratedImage:
        image = selectors.live_images_for(self.context["request"].user).filter(uuid=value).first()
        if image is None:
            raise serializers.ValidationError(_("No such image."))
        return image


class ShareLinkListView(generics.ListAPIView):
    serializer_class = ShareLinkSerializer

    def get_queryset(self):
        return selectors.share_links_for(self.request.user)

    @extend_schema(request=ShareLinkCreateSerializer, responses={201: ShareLinkSerializer})
    def post(self, request):
        """A public link to one image (`image`) or one folder (`folder`), optionally expiring."""
        serializer = ShareLinkCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        link = services.create_share_link(owner=request.user, **serializer.validated_data)
        return Response(ShareLinkSerializer(link, context={"request": request}).data, status=status.HTTP_201_CREATED)


class ShareLinkDetailView(APIView):
    def get_object(self, request, pk) -> ShareLink:
        return get_object_or_404(selectors.share_links_for(request.user), pk=pk)

    @extend_schema(responses={200: ShareLinkSerializer})
    def get(self, request, pk):
        return Response(ShareLinkSerializer(self.get_object(request, pk), context={"request": request}).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        """Revoke: the public link answers 404 from now on."""
        services.revoke_share_link(link=self.get_object(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedImageSerializer(ModelSerializer):
    """What the public sees of a shared image: no prompt, owner or job, only the picture through signed URLs."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    urls = serializers.SerializerMethodField()

    class Meta:
        model = GeneratedImage
        fields = ("id", "width", "height", "created_at", "urls")
        read_only_fields = fields

    def get_urls(self, image) -> dict[str, str]:
        """Signed and expiring, to copies without the generation metadata (services.share_copies)."""
        return selectors.shared_image_urls(image)


class SharedLinkPageSerializer(serializers.Serializer):
    """One page of a share link's images, with what the link is."""

    type = serializers.ChoiceField(choices=["image", "folder"])
    name = serializers.CharField(allow_null=True, help_text="The folder's name; null for one image.")
    expires_at = serializers.DateTimeField(allow_null=True)
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SharedImageSerializer(many=True)


class PublicShareView(APIView):
    """No login: the token is the credential. Unknown, revoked, expired or trashed -> 404."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: SharedLinkPageSerializer})
    def get(self, request, token: str):
        link = selectors.active_share_link(token)
        if link is None:
            raise exceptions.NotFound(_("This link does not exist, has expired or was revoked."))
        paginator = Pagination()
        page = [
            services.share_copies(image=image)
            for image in paginator.paginate_queryset(selectors.shared_images(link), request, view=self)
        ]
        response = paginator.get_paginated_response(SharedImageSerializer(page, many=True).data)
        response.data = {
            "type": "image" if link.image_id else "folder",
            "name": link.folder.name if link.folder_id else None,
            "expires_at": link.expires_at,
            **response.data,
        }
        response["Cache-Control"] = "private, no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response
