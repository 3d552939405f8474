from django.urls import path

from . import views

app_name = "gallery"
urlpatterns = [
    path("media/files/<str:token>", views.signed_file, name="signed-file"),
    path("s/<str:token>", views.shared, name="share"),
]
