import factory

from accounts.models import User
from templates_app.models import Template


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Template

    name = factory.Sequence(lambda n: f"Template {n}")
    slug = factory.Sequence(lambda n: f"template-{n}")
    production_path = "fashion"
    credit_cost = 1
    config = factory.LazyFunction(
        lambda: {
            "model": "Tongyi-MAI/Z-Image-Turbo",
            "steps": 4,
            "cfg_scale": 0.0,
            "width": 256,
            "height": 256,
            "pipeline": [
                {"node_type": "prompt_enhancement", "parameters": {"style_prompts": ["studio light"]}},
                {"node_type": "generation", "parameters": {"negative_prompt": "blurry"}},
                {"node_type": "save_image", "parameters": {}},
            ],
        }
    )
