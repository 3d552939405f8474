import factory

from scenes.models import Chapter, Character, Scene, Story

from ..factories import UserFactory


class StoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Story

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Story {n}")


class ChapterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chapter

    story = factory.SubFactory(StoryFactory)
    number = factory.Sequence(lambda n: n + 1)


class CharacterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Character

    story = factory.SubFactory(StoryFactory)
    name = factory.Sequence(lambda n: f"Character {n}")
    description = "short, curly red hair, green raincoat"


class SceneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scene
        skip_postgeneration_save = True

    chapter = factory.SubFactory(ChapterFactory)
    scene_number = factory.Sequence(lambda n: n + 1)
    description = "a lighthouse on a cliff at dusk"

    @factory.post_generation
    def characters(self, create, extracted, **kwargs):
        if create and extracted:
            self.characters.set(extracted)
