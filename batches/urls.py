from django.urls import path

from . import views

app_name = "batches"
urlpatterns = [
    path("batches/", views.batch_create, name="create"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
]
