"""Scene and character prompts, seeds and the jobs they queue, without a worker."""

import pytest
from django.core.exceptions import ValidationError

from accounts.exceptions import InsufficientCredits
from gallery.models import ImageType
from generation.models import GenerationJob
from scenes import services
from scenes.models import StoryImageRequest
from templates_app.services import revise_template

from ..factories import ChapterFactory, CharacterFactory, SceneFactory, StoryFactory, TemplateFactory, UserFactory

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
