"""POST/GET/DELETE /api/v1/uploads: the customer's own images, kept private and re-encoded, as inputs to jobs."""

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from gallery.models import SourceImage
from tests.conftest import client_for
from tests.factories import GenerationJobFactory, png_bytes, source_upload

pytestmark = pytest.mark.django_db


def upload(client, data: bytes, name: str = "shot.png", **fields):
    return client.post("/api/v1/uploads", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def test_an_upload_is_stored_re_encoded_and_answers_its_size_digest_and_url(api_client, user):
    response = upload(api_client, png_bytes((320, 200)))

    assert response.status_code == 201, response.content
    body = response.json()
    source = SourceImage.objects.get(uuid=body["id"])
    with default_storage.open(source.file.name, "rb") as handle:
        stored = handle.read()
    assert (body["width"], body["height"], body["kind"]) == (320, 200, "image")
    assert body["sha256"] == hashlib.sha256(stored).hexdigest()
    assert source.owner == user and source.file.name.startswith(f"sources/{user.pk}/")
    assert api_client.get(body["url"]).status_code == 200


def test_a_mask_can_be_uploaded_as_such(api_client):
    response = upload(api_client, png_bytes((64, 64), color=255, mode="L"), kind="mask")

    assert response.status_code == 201 and response.json()["kind"] == "mask"


def test_a_file_that_is_not_an_image_is_refused_on_its_field_and_nothing_is_stored(api_client):
    response = upload(api_client, b"%PDF-1.7 not an image", name="brief.pdf")

    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    assert not SourceImage.objects.exists()


def test_a_missing_file_is_refused_on_its_field(api_client):
    response = api_client.post("/api/v1/uploads", {}, format="multipart")

    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]


def test_the_list_holds_only_your_uploads_newest_first(api_client, user, other_user):
    first, second = source_upload(user), source_upload(user)
    source_upload(other_user)

    body = api_client.get("/api/v1/uploads").json()

    assert [item["id"] for item in body["results"]] == [str(second.uuid), str(first.uuid)]


def test_another_users_upload_is_not_found_to_read_or_delete(api_client, other_user):
    theirs = source_upload(other_user)

    assert api_client.get(f"/api/v1/uploads/{theirs.uuid}").status_code == 404
    assert api_client.delete(f"/api/v1/uploads/{theirs.uuid}").status_code == 404
    assert SourceImage.objects.filter(pk=theirs.pk).exists()


def test_deleting_an_upload_removes_its_file(user, django_capture_on_commit_callbacks):
    source = source_upload(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).delete(f"/api/v1/uploads/{source.uuid}")

    assert response.status_code == 204
    assert not SourceImage.objects.filter(pk=source.pk).exists()
    assert not default_storage.exists(source.file.name)


def test_an_upload_a_waiting_job_reads_cannot_be_deleted(user):
    source = source_upload(user)
    job = GenerationJobFactory(owner=user, source_upload=source, mode="image", strength=0.6)

    response = client_for(user).delete(f"/api/v1/uploads/{source.uuid}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "source_in_use" and str(job.pk) in response.json()["error"]["message"]
    assert SourceImage.objects.filter(pk=source.pk).exists()


def test_an_upload_only_finished_jobs_read_can_be_deleted(user):
    source = source_upload(user)
    GenerationJobFactory(owner=user, source_upload=source, mode="image", strength=0.6, succeeded=True)

    assert client_for(user).delete(f"/api/v1/uploads/{source.uuid}").status_code == 204
