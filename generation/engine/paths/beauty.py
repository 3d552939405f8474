from . import register_path
from .base import ProductionPath


@register_path
class BeautyPath(ProductionPath):
    name = "beauty"
    label = "Beauty"
    concurrency = 3
    style_prompts = (
        "beauty photography",
        "flawless skin texture",
        "soft diffused light",
        "macro detail",
    )
    default_size = (1024, 1024)
    negative_prompt = "plastic skin, over-smoothed skin, asymmetric eyes, low quality, blurry, watermark"
