from django.urls import path

from . import api

app_name = "webhooks-api"
urlpatterns = [
    path("webhooks", api.EndpointListCreateView.as_view(), name="webhook-list"),
    path("webhooks/default/secret", api.DefaultSecretView.as_view(), name="webhook-default-secret"),
    path("webhooks/<int:pk>", api.EndpointDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/rotate-secret", api.EndpointRotateSecretView.as_view(), name="webhook-rotate-secret"),
    path("webhooks/<int:pk>/deliveries", api.EndpointDeliveryListView.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/redeliver",
        api.RedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path("jobs/<int:pk>/webhook-deliveries", api.JobDeliveryListView.as_view(), name="job-webhook-deliveries"),
    path(
        "jobs/<int:job_id>/webhook-deliveries/<int:delivery_id>/redeliver",
        api.RedeliverView.as_view(),
        name="job-webhook-redeliver",
    ),
]
