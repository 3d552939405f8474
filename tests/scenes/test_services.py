"""Scene and character prompts, seeds and the jobs they queue, without a worker."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from accounts.exceptions import InsufficientCredits
from gallery.models import ImageType, SourceImage
from generation.engine.paths import get_path
from generation.models import GenerationJob
from scenes import services
from scenes.models import DEFAULT_REFERENCE_STRENGTH, StoryImageRequest
from templates_app.services import revise_template

from ..factories import (
    ChapterFactory,
    CharacterFactory,
    SceneFactory,
    StoryFactory,
    TemplateFactory,
    UserFactory,
    png_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(user):
    return StoryFactory(owner=user, style="watercolour", production_path="cartoon")


@pytest.fixture
def chapter(story):
    return ChapterFactory(story=story, number=2, style="autumn light")


def test_the_scene_prompt_is_description_then_characters_then_chapter_and_story_style(story, chapter):
    mia = CharacterFactory(story=story, name="Mia", description="a girl with a yellow kite")
    rex = CharacterFactory(story=story, name="Rex", description="  a scruffy\nbrown dog ")
    scene = SceneFactory(chapter=chapter, description="Running along the beach.", characters=[rex, mia])
    assert services.build_scene_prompt(scene) == (
        "Running along the beach, Mia (a girl with a yellow kite), Rex (a scruffy brown dog), autumn light, watercolour"
    )


def test_a_scene_without_characters_or_styles_is_just_its_description(user):
    scene = SceneFactory(chapter__story__owner=user, description="an empty harbour")
    assert services.build_scene_prompt(scene) == "an empty harbour"


def test_a_scene_image_is_a_scene_job_recorded_with_its_chapter_and_scene_number(story, chapter):
    scene = SceneFactory(chapter=chapter, scene_number=7)
    request = services.generate_scene_image(scene=scene)
    job = request.job
    assert (request.image_type, request.chapter_number, request.scene_number) == (ImageType.SCENE, 2, 7)
    assert (job.image_type, job.owner, job.production_path, job.status) == (
        ImageType.SCENE,
        story.owner,
        "cartoon",
        "queued",
    )
    assert job.prompt == "a lighthouse on a cliff at dusk, autumn light, watercolour"


def test_the_story_template_styles_the_job_in_its_latest_version(story, chapter):
    template = TemplateFactory(production_path="cinema")
    story.template = template
    story.save()
    revision = revise_template(template=template, credit_cost=2)
    job = services.generate_scene_image(scene=SceneFactory(chapter=chapter)).job
    assert (job.template, job.production_path) == (revision, "cinema")
    assert job.workflow[0]["parameters"]["style_prompts"] == ["studio light"]  # applied by the pipeline


def test_a_retired_story_template_is_a_clear_error(story, chapter):
    story.template = TemplateFactory(is_active=False)
    story.save()
    with pytest.raises(ValidationError) as error:
        services.generate_scene_image(scene=SceneFactory(chapter=chapter))
    assert "no longer available" in error.value.message_dict["template"][0]
    assert not GenerationJob.objects.exists()


class TestCharacterConsistency:
    def test_a_character_draws_a_seed_once_and_keeps_it(self, story):
        character = services.create_character(story=story, name="Mia", description="a girl")
        seed = character.seed
        services.update_character(character=character, description="a girl with a kite")
        character.refresh_from_db()
        assert character.seed == seed
        assert len({CharacterFactory(story=story).seed for _ in range(3)}) == 3

    def test_scenes_and_character_images_reuse_the_characters_seed_and_description(self, story, chapter):
        mia = CharacterFactory(story=story, name="Mia", description="a girl with a yellow kite")
        later = CharacterFactory(story=story, name="Ava")
        first = services.generate_scene_image(scene=SceneFactory(chapter=chapter, characters=[mia])).job
        second = services.generate_scene_image(scene=SceneFactory(chapter=chapter, characters=[later, mia])).job
        portrait = services.generate_character_image(character=mia).job
        assert first.seed == second.seed == portrait.seed == mia.seed
        for job in (first, second, portrait):
            assert "Mia (a girl with a yellow kite)" in job.prompt
        assert portrait.image_type == ImageType.CHARACTER
        assert (
            portrait.prompt
            == "Mia (a girl with a yellow kite), character portrait, full body, neutral background, watercolour"
        )

    def test_an_explicit_seed_gives_a_scene_a_new_variation(self, story, chapter):
        mia = CharacterFactory(story=story)
        scene = SceneFactory(chapter=chapter, characters=[mia])
        assert services.generate_scene_image(scene=scene, seed=5).job.seed == 5

    def test_regenerating_keeps_the_history(self, chapter):
        scene = SceneFactory(chapter=chapter)
        requests = [services.generate_scene_image(scene=scene) for _ in range(3)]
        assert list(scene.image_requests.all()) == requests[::-1]


def test_a_scene_only_takes_characters_of_its_own_story(story, chapter):
    stranger = CharacterFactory(name="Stranger")
    with pytest.raises(ValidationError) as error:
        services.create_scene(chapter=chapter, scene_number=1, description="x", characters=[stranger])
    assert error.value.message_dict == {"characters": ["Not in this story: Stranger."]}


def test_scene_numbers_are_unique_per_chapter_and_reported_on_the_field(chapter):
    services.create_scene(chapter=chapter, scene_number=1, description="x")
    with pytest.raises(ValidationError) as error:
        services.create_scene(chapter=chapter, scene_number=1, description="y")
    assert error.value.message_dict == {"scene_number": ["This chapter already has a scene with this number."]}
    services.create_scene(chapter=ChapterFactory(story=chapter.story), scene_number=1, description="z")


def test_a_duplicate_number_is_refused_in_the_readers_language(chapter):
    services.create_scene(chapter=chapter, scene_number=1, description="x")
    with translation.override("ko"), pytest.raises(ValidationError) as error:
        services.create_scene(chapter=chapter, scene_number=1, description="y")
    assert error.value.message_dict == {"scene_number": ["이 챕터에는 이미 같은 번호의 장면이 있습니다."]}


def test_generate_all_queues_one_job_per_scene_in_scene_order(chapter):
    for number in (3, 1, 2):
        SceneFactory(chapter=chapter, scene_number=number, description=f"scene {number}")
    result = services.generate_chapter_images(chapter=chapter)
    assert [request.scene_number for request in result.queued] == [1, 2, 3]
    jobs = [request.job for request in result.queued]
    assert [job.prompt.split(",")[0] for job in jobs] == ["scene 1", "scene 2", "scene 3"]
    assert [job.pk for job in jobs] == sorted(job.pk for job in jobs)
    assert (result.not_queued, result.error) == ([], None)


def test_generate_all_stops_at_the_first_refusal_and_says_what_was_queued():
    chapter = ChapterFactory(story__owner=UserFactory(credits=1))  # credits for one scene's job
    for number in (1, 2, 3):
        SceneFactory(chapter=chapter, scene_number=number, description=f"scene {number}")
    result = services.generate_chapter_images(chapter=chapter)
    assert [request.scene_number for request in result.queued] == [1]
    assert [scene.scene_number for scene in result.not_queued] == [2, 3]
    assert isinstance(result.error, InsufficientCredits)
    assert StoryImageRequest.objects.count() == GenerationJob.objects.count() == 1


def test_a_scene_too_long_for_one_prompt_is_queued_with_its_prompt_cut_and_marked(chapter):
    SceneFactory(chapter=chapter, scene_number=1, description="a long quiet street at night " * 200)
    job = services.generate_chapter_images(chapter=chapter).queued[0].job
    assert job.prompt_truncated and len(job.prompt) <= 2000
    assert job.prompt.startswith("a long quiet street at night")
    assert GenerationJob.objects.get(pk=job.pk).prompt_truncated


def test_a_characters_seed_is_not_among_the_fields_an_update_takes(story):
    character = services.create_character(story=story, name="Mia")
    with pytest.raises(TypeError, match="seed"):
        services.update_character(character=character, seed=1)


# --- character references ----------------------------------------------------------------------


class TestCharacterReferences:
    def test_a_characters_reference_conditions_its_scenes_and_portraits_at_its_strength(self, story, chapter):
        ava = CharacterFactory(story=story, name="Ava")
        mia = services.create_character(
            story=story, name="Mia", description="a girl", reference_png=png_bytes((320, 256)), reference_strength=0.4
        )
        scene = services.generate_scene_image(scene=SceneFactory(chapter=chapter, characters=[ava, mia])).job
        portrait = services.generate_character_image(character=mia).job

        mia.refresh_from_db()
        source = mia.reference_source
        assert source is not None and (source.owner, source.width, source.height) == (story.owner, 320, 256)
        for job in (scene, portrait):
            assert (job.mode, job.source_upload, job.strength) == ("image", source, 0.4)
            assert (job.width, job.height) == get_path(story.production_path).default_size  # the story's size
        assert (scene.seed, portrait.seed) == (ava.seed, mia.seed)  # the seed stays the first character's
        assert "Mia (a girl)" in portrait.prompt
        assert SourceImage.objects.filter(owner=story.owner).count() == 1  # made once, then reused

    def test_without_a_reference_image_the_character_is_drawn_from_text(self, story, chapter):
        mia = CharacterFactory(story=story)
        job = services.generate_scene_image(scene=SceneFactory(chapter=chapter, characters=[mia])).job
        assert (job.mode, job.source_upload) == ("text", None)

    def test_the_reference_strength_defaults_and_is_kept_in_range(self, story):
        mia = services.create_character(story=story, name="Mia")
        assert mia.reference_strength == DEFAULT_REFERENCE_STRENGTH == 0.55
        for strength in (0.01, 1.5):
            with pytest.raises(ValidationError) as refused:
                services.update_character(character=mia, reference_strength=strength)
            assert list(refused.value.message_dict) == ["reference_strength"]
        mia.refresh_from_db()
        assert mia.reference_strength == 0.55

    def test_the_database_refuses_a_strength_out_of_range(self, story):
        with pytest.raises(IntegrityError), transaction.atomic():
            CharacterFactory(story=story, reference_strength=0)

    def test_a_new_reference_replaces_the_old_source_once_no_job_reads_it(self, story):
        mia = services.create_character(story=story, name="Mia", reference_png=png_bytes((64, 64)))
        first_job = services.generate_character_image(character=mia).job
        mia.refresh_from_db()
        old = mia.reference_source

        services.update_character(character=mia, reference_png=png_bytes((96, 64)))  # the job still waits on it
        assert SourceImage.objects.filter(pk=old.pk).exists() and mia.reference_source is None

        GenerationJob.objects.filter(pk=first_job.pk).update(status="succeeded", finished_at=timezone.now())
        services.update_character(character=mia, reference_png=png_bytes((128, 64)))
        second = services.generate_character_image(character=mia).job
        mia.refresh_from_db()
        assert (mia.reference_source.width, second.source_upload) == (128, mia.reference_source)

    def test_deleting_the_character_deletes_its_reference_source(self, story):
        mia = services.create_character(story=story, name="Mia", reference_png=png_bytes((64, 64)))
        job = services.generate_character_image(character=mia).job
        GenerationJob.objects.filter(pk=job.pk).update(status="succeeded", finished_at=timezone.now())
        mia.refresh_from_db()
        source_pk = mia.reference_source.pk

        services.delete_character(character=mia)

        assert not SourceImage.objects.filter(pk=source_pk).exists()
