from . import register_path
from .base import ProductionPath


@register_path
class EatsPath(ProductionPath):
    name = "eats"
    label = "Eats"
    concurrency = 3
    style_prompts = (
        "food photography",
        "appetizing",
        "shallow depth of field",
        "natural light",
        "fresh ingredients",
    )
    default_size = (1024, 768)
    negative_prompt = "unappetizing, burnt, plastic-looking food, low quality, blurry, watermark"
