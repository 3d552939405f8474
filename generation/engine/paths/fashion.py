from . import register_path
from .base import ProductionPath


@register_path
class FashionPath(ProductionPath):
    name = "fashion"
    label = "Fashion"
    concurrency = 5
    style_prompts = (
        "fashion photography",
        "editorial styling",
        "studio lighting",
        "detailed fabric texture",
    )
    default_size = (1024, 1024)
    negative_prompt = "deformed hands, extra fingers, distorted fabric, low quality, blurry, watermark"
