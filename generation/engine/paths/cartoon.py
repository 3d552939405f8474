from . import register_path
from .base import ProductionPath


@register_path
class CartoonPath(ProductionPath):
    name = "cartoon"
    label = "Cartoon"
    concurrency = 3
    style_prompts = (
        "cartoon illustration",
        "clean line art",
        "vibrant flat colors",
        "expressive characters",
    )
    default_size = (1024, 1024)
    negative_prompt = "photorealistic, photo, 3d render, low quality, blurry, watermark"
