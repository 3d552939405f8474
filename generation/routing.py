from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/jobs/", consumers.JobEventsConsumer.as_asgi()),
    path("ws/jobs/<int:job_id>/", consumers.JobEventsConsumer.as_asgi()),
]
