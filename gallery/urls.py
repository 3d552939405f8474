"""Website pages for the gallery (/gallery/), local storage's signed files and public share pages."""

from django.urls import path

from . import views

app_name = "gallery"
urlpatterns = [
    path("gallery/", views.gallery, name="list"),
    path("gallery/bulk", views.bulk, name="bulk"),
    path("gallery/images/<uuid:pk>/", views.image_detail, name="image"),
    path("gallery/images/<uuid:pk>/favourite", views.image_favourite, name="image-favourite"),
    path("gallery/images/<uuid:pk>/organise", views.image_organise, name="image-organise"),
    path("gallery/images/<uuid:pk>/trash", views.image_trash, name="image-trash"),
    path("gallery/images/<uuid:pk>/share", views.image_share, name="image-share"),
    path("gallery/folders/new", views.folder_create, name="folder-create"),
    path("gallery/folders/<int:pk>/delete", views.folder_delete, name="folder-delete"),
    path("gallery/folders/<int:pk>/share", views.folder_share, name="folder-share"),
    path("gallery/share-links/<int:pk>/revoke", views.share_link_revoke, name="share-link-revoke"),
    path("gallery/trash/", views.trash, name="trash"),
    path("gallery/trash/<uuid:pk>/restore", views.trash_restore, name="trash-restore"),
    path("gallery/trash/empty", views.trash_empty, name="trash-empty"),
    path("media/files/<str:token>", views.signed_file, name="signed-file"),
    path("s/<str:token>", views.shared, name="share"),
]
