import uuid

import factory
from django.utils import timezone

from accounts.models import User
from templates_app.models import Template


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    email_verified_at = factory.LazyFunction(timezone.now)  # a confirmed address; `email_verified_at=None`: not yet
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()

    @factory.post_generation
    def credits(self, create, extracted, **kwargs):
        """Users start with 1000 credits (a ledger grant) so tests can submit jobs; `credits=0` for none."""
        amount = 1000 if extracted is None else extracted
        if create and amount:
            from accounts.services import grant_credits

            grant_credits(user=self, amount=amount, reason="Test credits", idempotency_key=f"factory:{uuid.uuid4()}")


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
