"""The curated templates seeded into every installation (created once, as version 1, when the slug is new).

Their names and descriptions are stored in English and marked for the catalog: pages show them in the reader's
language through Template.display_name / display_description."""

from django.utils.translation import gettext_noop

from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO


def _config(
    model: str,
    steps: int,
    cfg: float,
    size: tuple[int, int],
    styles: list[str],
    negative: str,
    scheduler: str | None = None,
) -> dict:
    config = {
        "model": model,
        "steps": steps,
        "cfg_scale": cfg,
        "width": size[0],
        "height": size[1],
        "pipeline": [
            {"node_type": "prompt_enhancement", "parameters": {"style_prompts": styles}},
            {
                "node_type": "generation",
                "parameters": {"model_type": "diffusion", "negative_prompt": negative},
            },
            {"node_type": "save_image", "parameters": {}},
        ],
    }
    if scheduler:
        config["scheduler"] = scheduler
    return config


def _from_image(config: dict) -> dict:
    """A template that starts from the customer's image: its nodes load it before the generation node."""
    nodes = config["pipeline"]
    return {**config, "pipeline": [nodes[0], {"node_type": "load_image", "parameters": {}}, *nodes[1:]]}


# The inputs the source documents' 3D-render requests set (`parameters.render_engine`, `.lighting_setup`), each
# value the words it adds to the prompt. templates_app/migrations/0004 gives them to an installed 3D render too.
RENDER_INPUTS = {
    "render_engine": {
        "label": {"en": "Render engine", "ko": "렌더 엔진"},
        "choices": [
            {
                "value": "cycles",
                "label": {"en": "Cycles (path tracing)", "ko": "사이클 (경로 추적)"},
                "prompt": "blender cycles, path traced, physically based materials",
            },
            {
                "value": "eevee",
                "label": {"en": "Eevee (real-time)", "ko": "이브이 (실시간)"},
                "prompt": "blender eevee, real-time render, crisp stylized shading",
            },
            {
                "value": "octane",
                "label": {"en": "Octane", "ko": "옥테인"},
                "prompt": "octane render, unbiased, glossy reflections",
            },
        ],
        "default": "cycles",
    },
    "lighting_setup": {
        "label": {"en": "Lighting", "ko": "조명"},
        "choices": [
            {
                "value": "studio",
                "label": {"en": "Studio softbox", "ko": "스튜디오 소프트박스"},
                "prompt": "soft studio lighting, three-point softboxes",
            },
            {
                "value": "dramatic",
                "label": {"en": "Dramatic", "ko": "드라마틱"},
                "prompt": "dramatic rim lighting, deep shadows",
            },
            {
                "value": "natural",
                "label": {"en": "Natural daylight", "ko": "자연광"},
                "prompt": "natural daylight, soft shadows",
            },
            {
                "value": "neon",
                "label": {"en": "Neon", "ko": "네온"},
                "prompt": "neon lighting, vivid coloured reflections",
            },
        ],
        "default": "studio",
    },
}

TURBO = (Z_IMAGE_TURBO, 9, 0.0)
# Few-step Turbo looks its best near 9 steps without CFG; SDXL needs more steps and some guidance.
TURBO_BOUNDS = {"steps": [4, 12], "guidance": [0.0, 2.0]}
SDXL_BOUNDS = {"steps": [20, 50], "guidance": [5.0, 12.0]}

CURATED_TEMPLATES = [
    {
        "slug": "3d-render",
        "name": gettext_noop("3D render"),
        "production_path": "cartoon",
        "credit_cost": 2,
        "description": gettext_noop("Glossy product-style 3D render with studio lighting (SDXL)."),
        "sample_prompt": "modern futuristic car in a cyberpunk city",
        "bounds": SDXL_BOUNDS,
        # The source documents' example, verbatim, and the two inputs their requests set.
        "config": {
            "model": SDXL,
            "scheduler": "DPMSolverMultistep",
            "steps": 35,
            "cfg_scale": 9.0,
            "width": 1024,
            "height": 1024,
            "pipeline": [
                {
                    "node_type": "prompt_enhancement",
                    "parameters": {
                        "style_prompts": [
                            "3d render",
                            "octane render",
                            "blender",
                            "high quality",
                            "professional lighting",
                        ]
                    },
                },
                {
                    "node_type": "generation",
                    "parameters": {
                        "model_type": "diffusion",
                        "negative_prompt": "2d, flat, painting, sketch, low quality, pixelated",
                    },
                },
            ],
            "inputs": RENDER_INPUTS,
        },
    },
    {
        "slug": "fashion-lookbook",
        "name": gettext_noop("Fashion lookbook"),
        "production_path": "fashion",
        "credit_cost": 1,
        "description": gettext_noop("Full-body editorial look on a clean studio backdrop."),
        "sample_prompt": "a model in an oversized camel wool coat and white sneakers",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (768, 1024),
            ["fashion lookbook", "full body shot", "editorial", "studio backdrop", "soft key light"],
            "cropped, deformed hands, blurry, low quality",
        ),
    },
    {
        "slug": "studio-product-shot",
        "name": gettext_noop("Studio product shot"),
        "production_path": "fashion",
        "credit_cost": 1,
        "description": gettext_noop("Accessories and apparel as hero products on seamless paper."),
        "sample_prompt": "a brown leather handbag with gold hardware",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 1024),
            ["studio product photography", "seamless background", "high-end retail", "crisp detail"],
            "clutter, harsh shadows, low quality",
        ),
    },
    {
        "slug": "product-on-marble",
        "name": gettext_noop("Product on marble"),
        "production_path": "beauty",
        "credit_cost": 1,
        "description": gettext_noop("Your own product shot, redrawn on a polished marble counter in soft daylight."),
        "sample_prompt": "the same perfume bottle on a white marble counter",
        "bounds": TURBO_BOUNDS,
        "config": _from_image(
            _config(
                *TURBO,
                (1024, 1024),
                ["product photography", "polished white marble surface", "soft daylight", "luxury still life"],
                "clutter, distorted label, low quality",
            )
        ),
    },
    {
        "slug": "banner-from-product-shot",
        "name": gettext_noop("Banner from product shot"),
        "production_path": "fashion",
        "credit_cost": 1,
        "description": gettext_noop(
            "Your product shot kept as it is on a wide banner canvas, the scene drawn out around it."
        ),
        "sample_prompt": "the same sneaker on a sunlit studio floor with soft shadows",
        "bounds": TURBO_BOUNDS,
        # A cover-sized canvas (SIZE_PRESETS["facebook_cover"]): the shot stays in the centre, the rest is drawn.
        "config": {
            **_from_image(
                _config(
                    *TURBO,
                    (820, 312),
                    ["product banner", "clean studio scene", "soft even light", "wide composition"],
                    "clutter, text, watermark, low quality",
                )
            ),
            "outpaint_anchor": "center",
        },
    },
    {
        "slug": "beauty-close-up",
        "name": gettext_noop("Beauty close-up"),
        "production_path": "beauty",
        "credit_cost": 1,
        "description": gettext_noop("Macro beauty portrait with natural skin texture."),
        "sample_prompt": "a woman with freckles wearing glossy coral lipstick",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 1024),
            ["beauty close-up", "macro lens", "natural skin texture", "soft diffused light"],
            "plastic skin, over-smoothed, distorted eyes",
        ),
    },
    {
        "slug": "cosmetics-flat-lay",
        "name": gettext_noop("Cosmetics flat-lay"),
        "production_path": "beauty",
        "credit_cost": 1,
        "description": gettext_noop("Top-down arrangement of cosmetics on a styled surface."),
        "sample_prompt": "a skincare set with serum bottles and a jade roller",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 1024),
            ["flat lay", "top-down view", "cosmetics arrangement", "pastel palette", "soft shadows"],
            "messy, low quality, text",
        ),
    },
    {
        "slug": "food-hero-shot",
        "name": gettext_noop("Food hero shot"),
        "production_path": "eats",
        "credit_cost": 1,
        "description": gettext_noop("Appetising close-up of a signature dish."),
        "sample_prompt": "a stack of buttermilk pancakes with berries and maple syrup",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 768),
            [
                "food photography",
                "hero shot",
                "shallow depth of field",
                "steam rising",
                "natural window light",
            ],
            "unappetizing, burnt, plastic",
        ),
    },
    {
        "slug": "menu-board",
        "name": gettext_noop("Menu board"),
        "production_path": "eats",
        "credit_cost": 1,
        "description": gettext_noop("Dishes laid out for a menu or delivery app banner."),
        "sample_prompt": "three ramen bowls with side dishes on a wooden table",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 576),
            ["menu photography", "overhead", "several dishes", "clean layout", "bright and fresh"],
            "clutter, low quality, blurry",
        ),
    },
    {
        "slug": "cinematic-still",
        "name": gettext_noop("Cinematic still"),
        "production_path": "cinema",
        "credit_cost": 1,
        "description": gettext_noop("A frame from a film: anamorphic, graded, dramatic."),
        "sample_prompt": "a detective walking down a rain-soaked neon street at night",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 576),
            ["cinematic still", "anamorphic lens", "film grain", "dramatic lighting", "color graded"],
            "flat lighting, amateur, low quality",
        ),
    },
    {
        "slug": "movie-poster",
        "name": gettext_noop("Movie poster"),
        "production_path": "cinema",
        "credit_cost": 2,
        "description": gettext_noop("Portrait key art with a bold composition."),
        "sample_prompt": "an astronaut standing alone on a red desert planet",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (576, 1024),
            ["movie poster key art", "bold composition", "epic atmosphere", "rim light"],
            "low quality, cluttered, watermark",
        ),
    },
    {
        "slug": "cartoon-character",
        "name": gettext_noop("Cartoon character"),
        "production_path": "cartoon",
        "credit_cost": 1,
        "description": gettext_noop("A friendly mascot or character sheet."),
        "sample_prompt": "a cheerful fox mascot wearing a chef hat",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 1024),
            ["cartoon character", "clean line art", "vibrant flat colors", "character design sheet"],
            "photorealistic, photo, 3d, low quality",
        ),
    },
    {
        "slug": "comic-panel",
        "name": gettext_noop("Comic panel"),
        "production_path": "cartoon",
        "credit_cost": 1,
        "description": gettext_noop("A single comic-book panel with inked outlines."),
        "sample_prompt": "a superhero landing on a rooftop at sunset",
        "bounds": TURBO_BOUNDS,
        "config": _config(
            *TURBO,
            (1024, 768),
            ["comic book panel", "inked outlines", "halftone shading", "dynamic pose"],
            "photorealistic, blurry, low quality",
        ),
    },
]
