from django.urls import path

from . import api

app_name = "gallery-api"
urlpatterns = [
    path("images", api.ImageListView.as_view(), name="image-list"),
    path("images/download", api.ImageZipView.as_view(), name="image-zip"),
    path("images/<uuid:pk>", api.ImageDetailView.as_view(), name="image-detail"),
    path("images/<uuid:pk>/download", api.ImageDownloadView.as_view(), name="image-download"),
    path("images/<uuid:pk>/restore", api.ImageRestoreView.as_view(), name="image-restore"),
    path("uploads", api.UploadListView.as_view(), name="upload-list"),
    path("uploads/<uuid:pk>", api.UploadDetailView.as_view(), name="upload-detail"),
    path("trash", api.TrashListView.as_view(), name="trash"),
    path("trash/empty", api.TrashEmptyView.as_view(), name="trash-empty"),
    path("trash/<uuid:pk>", api.TrashItemView.as_view(), name="trash-item"),
    path("folders", api.FolderListView.as_view(), name="folder-list"),
    path("folders/<int:pk>", api.FolderDetailView.as_view(), name="folder-detail"),
    path("tags", api.TagListView.as_view(), name="tag-list"),
    path("tags/<int:pk>", api.TagDetailView.as_view(), name="tag-detail"),
    path("share-links", api.ShareLinkListView.as_view(), name="share-link-list"),
    path("share-links/<int:pk>", api.ShareLinkDetailView.as_view(), name="share-link-detail"),
    path("shares/<str:token>", api.PublicShareView.as_view(), name="public-share"),
]
