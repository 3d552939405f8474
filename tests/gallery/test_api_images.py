"""The images API: browse with filters and search, organise (favourite, folder, tags), trash, download."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.utils import timezone
from PIL import Image

from gallery.models import Folder, GeneratedImage, Tag

from ..factories import GeneratedImageFactory, GenerationJobFactory, TemplateFactory, stored_image


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


class TestBrowse:
    def test_lists_only_the_users_live_images_newest_first(self, api_client, user, other_user):
        older = GeneratedImageFactory(owner=user, created_at=timezone.now() - dt.timedelta(hours=1))
        newer = GeneratedImageFactory(owner=user)
        trashed = GeneratedImageFactory(owner=user, deleted_at=timezone.now())
        GeneratedImageFactory(owner=other_user)

        response = api_client.get("/api/v1/images")

        assert response.status_code == 200
        assert ids(response) == [str(newer.uuid), str(older.uuid)]
        assert str(trashed.uuid) not in ids(response)

    def test_pages_are_stable_when_images_share_a_timestamp(self, api_client, user):
        moment = timezone.now()
        images = [GeneratedImageFactory(owner=user, created_at=moment) for _ in range(7)]

        seen = []
        for page in (1, 2, 3):
            seen += ids(api_client.get("/api/v1/images", {"page_size": 3, "page": page}))

        assert seen == [str(image.uuid) for image in sorted(images, key=lambda image: -image.pk)]

    def test_an_image_carries_its_parameters_and_signed_urls(self, api_client, user):
        image = GeneratedImageFactory(owner=user, job__prompt="a red <b>dress</b>")

        item = api_client.get(f"/api/v1/images/{image.uuid}").json()

        assert item["prompt"] == "a red <b>dress</b>"
        assert item["job"] == image.job_id
        assert set(item["urls"]) == {"url", "thumbnail_url", "download", "original_download"}
        assert item["urls"]["original_download"] == ""  # no brand kit logo on it, so no separate original
        assert item["urls"]["url"].startswith("/media/files/")

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"path": "beauty"}, ["lipstick"]),
            ({"template": "summer-lookbook"}, ["dress"]),
            ({"favourite": "true"}, ["sneakers"]),
            ({"favourite": "false"}, ["lipstick", "dress", "burger"]),
            ({"tag": "CAMPAIGN"}, ["dress", "burger"]),
            ({"q": "red"}, ["sneakers", "dress"]),
            ({"q": "RED linen"}, ["dress"]),
            ({"folder": "none"}, ["sneakers", "lipstick", "burger"]),
            ({"created_after": "2026-03-02"}, ["sneakers", "lipstick"]),
            ({"created_before": "2026-03-02"}, ["lipstick", "dress", "burger"]),
            ({"created_after": "2026-03-02T12:00:00Z", "created_before": "2026-03-02"}, ["lipstick"]),
        ],
    )
    def test_filters(self, api_client, user, query, expected):
        template = TemplateFactory(slug="summer-lookbook")
        folder = Folder.objects.create(owner=user, name="Lookbook")
        campaign = Tag.objects.create(owner=user, name="Campaign")
        day = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        fixtures = {
            "sneakers": dict(prompt_used="red sneakers", created_at=day + dt.timedelta(days=3), is_favourite=True),
            "lipstick": dict(
                prompt_used="pink lipstick", created_at=day + dt.timedelta(days=1, hours=13), production_path="beauty"
            ),
            "dress": dict(prompt_used="a red linen dress", created_at=day + dt.timedelta(hours=5), folder=folder),
            "burger": dict(prompt_used="a burger", created_at=day),
        }
        by_name = {}
        for name, fields in fixtures.items():
            image = GeneratedImageFactory(owner=user, **fields)
            by_name[str(image.uuid)] = name
        GeneratedImage.objects.filter(prompt_used="a red linen dress").update(template=template)
        for image in GeneratedImage.objects.filter(prompt_used__in=["a red linen dress", "a burger"]):
            image.tags.add(campaign)
        if "folder" in query and query["folder"] != "none":
            query = {**query, "folder": folder.pk}

        response = api_client.get("/api/v1/images", query)

        assert response.status_code == 200, response.content
        assert [by_name[image_id] for image_id in ids(response)] == expected

    def test_filter_by_folder_id(self, api_client, user):
        folder = Folder.objects.create(owner=user, name="Shoes")
        inside = GeneratedImageFactory(owner=user, folder=folder)
        GeneratedImageFactory(owner=user)

        assert ids(api_client.get("/api/v1/images", {"folder": folder.pk})) == [str(inside.uuid)]

    def test_another_users_folder_filter_finds_nothing(self, api_client, user, other_user):
        theirs = Folder.objects.create(owner=other_user, name="Theirs")
        GeneratedImageFactory(owner=other_user, folder=theirs)

        assert ids(api_client.get("/api/v1/images", {"folder": theirs.pk})) == []

    @pytest.mark.parametrize(
        "query",
        [{"path": "nope"}, {"favourite": "maybe"}, {"created_after": "yesterday"}, {"folder": "x"}, {"colour": "red"}],
    )
    def test_bad_filters_are_a_400_in_the_standard_format(self, api_client, query):
        response = api_client.get("/api/v1/images", query)

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert set(error["fields"]) == set(query)

    def test_anonymous_requests_are_refused(self, client):
        assert client.get("/api/v1/images").status_code in {401, 403}


class TestOrganise:
    def test_favourite_flag_is_set_and_cleared(self, api_client, user):
        image = GeneratedImageFactory(owner=user)

        assert api_client.patch(f"/api/v1/images/{image.uuid}", {"is_favourite": True}, format="json").json()[
            "is_favourite"
        ]
        image.refresh_from_db()
        assert image.is_favourite
        api_client.patch(f"/api/v1/images/{image.uuid}", {"is_favourite": False}, format="json")
        image.refresh_from_db()
        assert not image.is_favourite

    def test_tags_are_replaced_by_name_and_created_when_new(self, api_client, user):
        existing = Tag.objects.create(owner=user, name="Campaign")
        image = GeneratedImageFactory(owner=user)

        response = api_client.patch(
            f"/api/v1/images/{image.uuid}", {"tags": ["campaign", "  Summer   2026 ", "summer 2026"]}, format="json"
        )

        assert response.status_code == 200, response.content
        assert response.json()["tags"] == ["Campaign", "Summer 2026"]
        assert set(image.tags.all()) == {existing, Tag.objects.get(owner=user, name="Summer 2026")}
        assert api_client.patch(f"/api/v1/images/{image.uuid}", {"tags": []}, format="json").json()["tags"] == []

    def test_move_into_and_out_of_a_folder(self, api_client, user):
        folder = Folder.objects.create(owner=user, name="Shoes")
        image = GeneratedImageFactory(owner=user)

        url = f"/api/v1/images/{image.uuid}"

        assert api_client.patch(url, {"folder": folder.pk}, format="json").json()["folder"] == folder.pk
        assert api_client.patch(url, {"folder": None}, format="json").json()["folder"] is None

    def test_another_users_folder_cannot_be_used(self, api_client, user, other_user):
        theirs = Folder.objects.create(owner=other_user, name="Theirs")
        image = GeneratedImageFactory(owner=user)

        response = api_client.patch(f"/api/v1/images/{image.uuid}", {"folder": theirs.pk}, format="json")

        assert response.status_code == 400
        assert "folder" in response.json()["error"]["fields"]
        image.refresh_from_db()
        assert image.folder_id is None

    def test_unknown_body_fields_are_rejected(self, api_client, user):
        image = GeneratedImageFactory(owner=user)

        response = api_client.patch(f"/api/v1/images/{image.uuid}", {"prompt_used": "hacked"}, format="json")

        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"prompt_used": ["Unknown field."]}


class TestTrash:
    def test_delete_moves_to_trash_and_restore_brings_it_back(self, api_client, user):
        image = GeneratedImageFactory(owner=user)

        assert api_client.delete(f"/api/v1/images/{image.uuid}").status_code == 204
        assert ids(api_client.get("/api/v1/images")) == []
        assert ids(api_client.get("/api/v1/trash")) == [str(image.uuid)]
        assert api_client.get(f"/api/v1/images/{image.uuid}").status_code == 404

        response = api_client.post(f"/api/v1/images/{image.uuid}/restore")

        assert response.status_code == 200
        assert response.json()["deleted_at"] is None
        assert ids(api_client.get("/api/v1/images")) == [str(image.uuid)]
        assert ids(api_client.get("/api/v1/trash")) == []

    def test_emptying_the_trash_removes_rows_and_files(
        self, api_client, user, local_storage, django_capture_on_commit_callbacks
    ):
        trashed, kept = stored_image(user), stored_image(user)
        api_client.delete(f"/api/v1/images/{trashed.uuid}")

        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post("/api/v1/trash/empty")

        assert response.json() == {"purged": 1}
        assert list(GeneratedImage.objects.values_list("pk", flat=True)) == [kept.pk]
        assert local_storage.keys() == {kept.file.name, kept.thumbnail.name}

    def test_one_trashed_image_can_be_deleted_for_good(self, api_client, user):
        image = GeneratedImageFactory(owner=user)
        live = GeneratedImageFactory(owner=user)
        api_client.delete(f"/api/v1/images/{image.uuid}")

        assert api_client.delete(f"/api/v1/trash/{live.uuid}").status_code == 404
        assert api_client.delete(f"/api/v1/trash/{image.uuid}").status_code == 204
        assert not GeneratedImage.objects.filter(pk=image.pk).exists()


class TestDownload:
    def test_download_redirects_to_a_signed_url_of_the_original(self, api_client, user, local_storage):
        image = stored_image(user, prompt="blue jacket")

        response = api_client.get(f"/api/v1/images/{image.uuid}/download")

        assert response.status_code == 302
        file_response = api_client.get(response["Location"])
        assert file_response.status_code == 200
        assert "attachment" in file_response["Content-Disposition"]
        png = Image.open(io.BytesIO(b"".join(file_response.streaming_content)))
        assert png.text["prompt"] == "blue jacket"

    def test_download_can_answer_the_url_as_json(self, api_client, user, settings):
        image = GeneratedImageFactory(owner=user)

        body = api_client.get(f"/api/v1/images/{image.uuid}/download", {"redirect": "false"}).json()

        assert body["url"].startswith("/media/files/")
        assert body["expires_in"] == settings.SIGNED_URL_EXPIRY

    def test_a_selection_downloads_as_a_zip_of_the_originals(self, api_client, user, storage):
        images = [stored_image(user, prompt=f"look {n}", color=(n * 40, 10, 10)) for n in range(3)]

        response = api_client.post(
            "/api/v1/images/download", {"ids": [str(image.uuid) for image in images]}, format="json"
        )

        assert response.status_code == 200
        assert response.streaming
        assert response["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        assert archive.testzip() is None
        assert archive.namelist() == [f"zimage-{i.job_id}-{i.index}-{i.uuid.hex[:8]}.png" for i in images]
        for image, name in zip(images, archive.namelist(), strict=True):
            with image.file.open("rb") as stored:
                assert archive.read(name) == stored.read()
            assert Image.open(io.BytesIO(archive.read(name))).text["prompt"] == image.prompt_used

    def test_a_zip_with_an_unknown_or_foreign_image_is_a_404(self, api_client, user, other_user):
        mine, theirs = GeneratedImageFactory(owner=user), GeneratedImageFactory(owner=other_user)

        response = api_client.post(
            "/api/v1/images/download", {"ids": [str(mine.uuid), str(theirs.uuid)]}, format="json"
        )

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_a_zip_needs_a_bounded_selection(self, api_client):
        assert api_client.post("/api/v1/images/download", {"ids": []}, format="json").status_code == 400
        many = [f"00000000-0000-0000-0000-{n:012d}" for n in range(201)]
        assert api_client.post("/api/v1/images/download", {"ids": many}, format="json").status_code == 400


def test_the_jobs_api_no_longer_shows_trashed_images(api_client, user):
    job = GenerationJobFactory(owner=user, succeeded=True)
    kept, trashed = GeneratedImageFactory(owner=user, job=job), GeneratedImageFactory(owner=user, job=job)
    api_client.delete(f"/api/v1/images/{trashed.uuid}")

    images = api_client.get(f"/api/v1/jobs/{job.pk}").json()["images"]

    assert [image["id"] for image in images] == [str(kept.uuid)]
