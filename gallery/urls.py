from django.urls import path

from . import views

app_name = "gallery"
urlpatterns = [
    path("files/<str:token>", views.signed_file, name="signed-file"),
]
