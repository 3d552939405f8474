"""Website pages for the gallery, mounted at /gallery/."""

from django.urls import path

from . import pages

app_name = "gallery_pages"
urlpatterns = [
    path("", pages.gallery, name="list"),
    path("bulk", pages.bulk, name="bulk"),
    path("images/<uuid:pk>/", pages.image_detail, name="image"),
    path("images/<uuid:pk>/favourite", pages.image_favourite, name="image-favourite"),
    path("images/<uuid:pk>/organise", pages.image_organise, name="image-organise"),
    path("images/<uuid:pk>/trash", pages.image_trash, name="image-trash"),
    path("images/<uuid:pk>/share", pages.image_share, name="image-share"),
    path("folders/new", pages.folder_create, name="folder-create"),
    path("folders/<int:pk>/delete", pages.folder_delete, name="folder-delete"),
    path("folders/<int:pk>/share", pages.folder_share, name="folder-share"),
    path("share-links/<int:pk>/revoke", pages.share_link_revoke, name="share-link-revoke"),
    path("trash/", pages.trash, name="trash"),
    path("trash/<uuid:pk>/restore", pages.trash_restore, name="trash-restore"),
    path("trash/empty", pages.trash_empty, name="trash-empty"),
]
