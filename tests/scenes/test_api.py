"""Stories over the REST API: owner-only CRUD, scene image endpoints (202/404), generate-all, choosing."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from gallery.models import ImageType
from generation.models import GenerationJob
from scenes.models import Character, Scene, Story, StoryImageRequest

from ..conftest import client_for
from ..factories import (
    ChapterFactory,
    CharacterFactory,
    GeneratedImageFactory,
    SceneFactory,
    StoryFactory,
    TemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chapter(user):
    return ChapterFactory(story__owner=user, number=1)


def scene_url(chapter, number, suffix=""):
    return f"/api/v1/chapters/{chapter.pk}/scenes/{number}{suffix}"


def png_upload(name="ref.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "purple").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


class TestStoryTree:
    def test_a_user_builds_a_story_with_chapters_characters_and_scenes(self, api_client):
        template = TemplateFactory(production_path="cartoon")
        story = api_client.post(
            "/api/v1/stories", {"title": "The Kite", "template": template.slug, "style": "pastel"}, format="json"
        )
        assert story.status_code == 201, story.content
        story_id = story.json()["id"]
        assert (story.json()["template"], story.json()["production_path"]) == (template.slug, "cartoon")
        chapter = api_client.post(f"/api/v1/stories/{story_id}/chapters", {"number": 1, "title": "Wind"}, format="json")
        assert chapter.status_code == 201, chapter.content
        mia = api_client.post(
            f"/api/v1/stories/{story_id}/characters", {"name": "Mia", "description": "a girl"}, format="json"
        )
        assert mia.status_code == 201, mia.content
        assert isinstance(mia.json()["seed"], int)
        scene = api_client.post(
            f"/api/v1/chapters/{chapter.json()['id']}/scenes",
            {"scene_number": 1, "description": "a kite in the sky", "characters": [mia.json()["id"]]},
            format="json",
        )
        assert scene.status_code == 201, scene.content
        assert scene.json()["characters"] == [mia.json()["id"]]
        listed = api_client.get(f"/api/v1/chapters/{chapter.json()['id']}/scenes").json()["results"]
        assert [item["scene_number"] for item in listed] == [1]

    def test_a_duplicate_scene_number_is_a_400_on_scene_number(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=1)
        response = api_client.post(
            f"/api/v1/chapters/{chapter.pk}/scenes", {"scene_number": 1, "description": "again"}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["scene_number"]

    def test_a_character_of_another_story_cannot_join_a_scene(self, api_client, chapter, user):
        elsewhere = CharacterFactory(story=StoryFactory(owner=user))
        response = api_client.post(
            f"/api/v1/chapters/{chapter.pk}/scenes",
            {"scene_number": 1, "description": "x", "characters": [elsewhere.pk]},
            format="json",
        )
        assert response.status_code == 400
        assert "characters" in response.json()["error"]["fields"]

    def test_a_scene_is_edited_and_deleted_by_its_number(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=4)
        edited = api_client.patch(scene_url(chapter, 4), {"description": "at night"}, format="json")
        assert (edited.status_code, edited.json()["description"]) == (200, "at night")
        assert api_client.delete(scene_url(chapter, 4)).status_code == 204
        assert not Scene.objects.exists()

    def test_a_character_seed_cannot_be_set_through_the_api(self, api_client, user):
        character = CharacterFactory(story__owner=user)
        response = api_client.patch(f"/api/v1/characters/{character.pk}", {"seed": 1, "name": "Zed"}, format="json")
        assert response.status_code == 200
        assert response.json()["seed"] == character.seed

    def test_a_reference_image_is_re_encoded_and_served_signed(self, api_client, user):
        story = StoryFactory(owner=user)
        response = api_client.post(
            f"/api/v1/stories/{story.pk}/characters",
            {"name": "Mia", "reference_image": png_upload()},
            format="multipart",
        )
        assert response.status_code == 201, response.content
        download = api_client.get(response.json()["reference_image_url"])
        assert download.status_code == 200
        image = Image.open(io.BytesIO(b"".join(download.streaming_content)))
        assert (image.format, image.size) == ("PNG", (32, 24))

    def test_deleting_a_story_removes_its_characters_reference_images(
        self, api_client, user, django_capture_on_commit_callbacks
    ):
        story = StoryFactory(owner=user)
        created = api_client.post(
            f"/api/v1/stories/{story.pk}/characters",
            {"name": "Mia", "reference_image": png_upload()},
            format="multipart",
        )
        key = Character.objects.get(pk=created.json()["id"]).reference_image.name
        assert default_storage.exists(key)
        with django_capture_on_commit_callbacks(execute=True):
            assert api_client.delete(f"/api/v1/stories/{story.pk}").status_code == 204
        assert not default_storage.exists(key)

    def test_a_reference_image_that_is_not_an_image_is_a_clear_400(self, api_client, user):
        story = StoryFactory(owner=user)
        fake = SimpleUploadedFile("ref.png", b"#!/bin/sh\necho not a picture\n", content_type="image/png")
        response = api_client.post(
            f"/api/v1/stories/{story.pk}/characters", {"name": "Mia", "reference_image": fake}, format="multipart"
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"]["reference_image"] == ["The file is not a valid image or is corrupt."]
        assert not Character.objects.exists()

    def test_a_characters_reference_strength_defaults_and_a_bad_one_names_the_field(self, api_client, user):
        story = StoryFactory(owner=user)
        created = api_client.post(
            f"/api/v1/stories/{story.pk}/characters",
            {"name": "Mia", "reference_image": png_upload()},
            format="multipart",
        )
        assert created.status_code == 201, created.content
        character = created.json()
        assert character["reference_strength"] == 0.55
        url = f"/api/v1/characters/{character['id']}"
        for strength in (0, 1.01, "strong"):
            response = api_client.patch(url, {"reference_strength": strength}, format="json")
            assert response.status_code == 400, response.content
            assert list(response.json()["error"]["fields"]) == ["reference_strength"]
        assert api_client.patch(url, {"reference_strength": 0.3}, format="json").json()["reference_strength"] == 0.3


class TestSceneImages:
    def test_posting_queues_a_scene_job_and_answers_202_with_the_record(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=3)
        response = api_client.post(scene_url(chapter, 3, "/images"), format="json")
        assert response.status_code == 202, response.content
        body = response.json()
        record = StoryImageRequest.objects.get()
        assert (body["id"], body["job_id"], body["status"]) == (record.pk, record.job_id, "queued")
        assert (body["image_type"], body["chapter_id"], body["scene_number"]) == ("scene", chapter.pk, 3)
        assert GenerationJob.objects.get().image_type == ImageType.SCENE

    def test_an_unknown_scene_is_a_404_that_says_which(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=1)
        for url in (scene_url(chapter, 9, "/images"), scene_url(chapter, 9, "/status")):
            response = api_client.post(url) if url.endswith("images") else api_client.get(url)
            assert response.status_code == 404
            assert response.json()["error"]["message"] == f"Chapter 1 of {chapter.story.title!r} has no scene 9."
        assert not GenerationJob.objects.exists()

    def test_status_before_any_request_is_a_404_that_says_so(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=1)
        response = api_client.get(scene_url(chapter, 1, "/status"))
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "No image has been requested for scene 1 yet."

    def test_status_reports_the_latest_job(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=1)
        api_client.post(scene_url(chapter, 1, "/images"))
        latest = api_client.post(scene_url(chapter, 1, "/images")).json()
        GenerationJob.objects.filter(pk=latest["job_id"]).update(status="failed", last_error="boom", retry_count=3)
        body = api_client.get(scene_url(chapter, 1, "/status")).json()
        assert (body["job_id"], body["status"], body["error_message"], body["retry_count"]) == (
            latest["job_id"],
            "failed",
            "boom",
            3,
        )
        assert body["image_url"] is None
        history = api_client.get(scene_url(chapter, 1, "/images")).json()["results"]
        assert len(history) == 2

    def test_one_of_the_scenes_images_can_be_chosen(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=1)
        first = GenerationJob.objects.get(pk=api_client.post(scene_url(chapter, 1, "/images")).json()["job_id"])
        image = GeneratedImageFactory(job=first)
        response = api_client.post(scene_url(chapter, 1, "/chosen-image"), {"image": str(image.uuid)}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["chosen_image"]["id"] == str(image.uuid)
        assert Scene.objects.get().chosen_image == image
        cleared = api_client.post(scene_url(chapter, 1, "/chosen-image"), {"image": None}, format="json")
        assert cleared.json()["chosen_image"] is None

    def test_an_image_of_another_scene_cannot_be_chosen(self, api_client, chapter):
        SceneFactory(chapter=chapter, scene_number=1)
        SceneFactory(chapter=chapter, scene_number=2)
        other = GenerationJob.objects.get(pk=api_client.post(scene_url(chapter, 2, "/images")).json()["job_id"])
        response = api_client.post(
            scene_url(chapter, 1, "/chosen-image"), {"image": str(GeneratedImageFactory(job=other).uuid)}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"image": ["This image was not generated for this scene."]}

    def test_a_character_image_uses_the_characters_seed(self, api_client, user):
        character = CharacterFactory(story__owner=user)
        response = api_client.post(f"/api/v1/characters/{character.pk}/images")
        assert response.status_code == 202, response.content
        assert (response.json()["image_type"], response.json()["seed"]) == ("character", character.seed)
        assert len(api_client.get(f"/api/v1/characters/{character.pk}/images").json()["results"]) == 1


class TestGenerateAll:
    def test_it_queues_every_scene_in_scene_order(self, api_client, chapter):
        for number in (2, 3, 1):
            SceneFactory(chapter=chapter, scene_number=number)
        response = api_client.post(f"/api/v1/chapters/{chapter.pk}/images")
        assert response.status_code == 202, response.content
        body = response.json()
        assert [item["scene_number"] for item in body["queued"]] == [1, 2, 3]
        assert (body["not_queued"], body["error"]) == ([], None)
        job_ids = [item["job_id"] for item in body["queued"]]
        assert job_ids == sorted(job_ids)

    def test_a_plan_limit_midway_reports_what_was_queued(self, api_client, chapter):
        for number in range(1, 8):
            SceneFactory(chapter=chapter, scene_number=number)
        response = api_client.post(f"/api/v1/chapters/{chapter.pk}/images")
        assert response.status_code == 202, response.content
        body = response.json()
        queued = [item["scene_number"] for item in body["queued"]]
        assert queued == list(range(1, len(queued) + 1))
        assert body["not_queued"] == list(range(len(queued) + 1, 8))
        assert body["error"]["code"] == "too_many_jobs"
        assert GenerationJob.objects.count() == len(queued) == StoryImageRequest.objects.count()

    def test_when_nothing_can_be_queued_the_refusal_is_the_answer(self):
        broke = UserFactory(credits=0)
        chapter = ChapterFactory(story__owner=broke, number=1)
        SceneFactory(chapter=chapter, scene_number=1, description="a kite over the dunes")
        response = client_for(broke).post(f"/api/v1/chapters/{chapter.pk}/images")
        assert response.status_code == 402
        assert response.json()["error"]["code"] == "insufficient_credits"

    def test_a_chapter_without_scenes_is_a_400(self, api_client, chapter):
        assert api_client.post(f"/api/v1/chapters/{chapter.pk}/images").status_code == 400


class TestIsolation:
    """Another user's story, chapter, scene or character is a 404 on every endpoint, and nothing is queued."""

    @pytest.fixture
    def theirs(self, other_user):
        chapter = ChapterFactory(story__owner=other_user, number=1)
        scene = SceneFactory(chapter=chapter, scene_number=1)
        character = CharacterFactory(story=chapter.story)
        return chapter.story, chapter, scene, character

    def test_every_endpoint_answers_404(self, api_client, theirs):
        story, chapter, scene, character = theirs
        gets = [
            f"/api/v1/stories/{story.pk}",
            f"/api/v1/stories/{story.pk}/chapters",
            f"/api/v1/stories/{story.pk}/characters",
            f"/api/v1/chapters/{chapter.pk}",
            f"/api/v1/chapters/{chapter.pk}/scenes",
            scene_url(chapter, 1),
            scene_url(chapter, 1, "/images"),
            scene_url(chapter, 1, "/status"),
            f"/api/v1/characters/{character.pk}",
            f"/api/v1/characters/{character.pk}/images",
        ]
        for url in gets:
            assert api_client.get(url).status_code == 404, url
        posts = [
            f"/api/v1/stories/{story.pk}/chapters",
            f"/api/v1/stories/{story.pk}/characters",
            f"/api/v1/chapters/{chapter.pk}/scenes",
            f"/api/v1/chapters/{chapter.pk}/images",
            scene_url(chapter, 1, "/images"),
            scene_url(chapter, 1, "/chosen-image"),
            f"/api/v1/characters/{character.pk}/images",
        ]
        for url in posts:
            assert (
                api_client.post(url, {"number": 2, "name": "x", "scene_number": 2, "description": "x"}).status_code
                == 404
            ), url
        for url in (f"/api/v1/stories/{story.pk}", f"/api/v1/chapters/{chapter.pk}", scene_url(chapter, 1)):
            assert api_client.delete(url).status_code == 404, url
        assert api_client.patch(f"/api/v1/characters/{character.pk}", {"name": "mine"}).status_code == 404
        assert not GenerationJob.objects.exists()
        assert Story.objects.filter(pk=story.pk).exists() and Scene.objects.filter(pk=scene.pk).exists()

    def test_lists_show_only_ones_own_stories(self, api_client, user, theirs):
        mine = StoryFactory(owner=user)
        assert [item["id"] for item in api_client.get("/api/v1/stories").json()["results"]] == [mine.pk]

    def test_stories_need_authentication(self):
        assert APIClient().get("/api/v1/stories").status_code in (401, 403)
