from . import register_path
from .base import ProductionPath


@register_path
class CinemaPath(ProductionPath):
    name = "cinema"
    label = "Cinema"
    concurrency = 3
    style_prompts = (
        "cinematic still",
        "anamorphic lens",
        "dramatic lighting",
        "film grain",
        "color graded",
    )
    default_size = (1024, 576)
    negative_prompt = "flat lighting, amateur snapshot, low quality, blurry, watermark"
