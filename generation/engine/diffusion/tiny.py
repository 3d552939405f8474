"""Each model's own diffusers pipeline, built in code from tiny random-weight components, as diffusers' tests do.

`ZImagePipeline` (Qwen3 text encoder, Z-Image transformer, flow-matching scheduler, VAE) and
`StableDiffusionXLPipeline` (two CLIP text encoders, a UNet with SDXL's added time conditioning, Euler
scheduler, VAE) run their real code on the CPU in a fraction of a second, so tests and the embedded
default exercise the same path as a GPU worker: scheduler swaps, negative prompts, guidance. Nothing is
read from a model hub: the tokenizers are byte-level BPEs built here (a Qwen-style chat template for
Z-Image, CLIP's start/end tokens and 77-token context for SDXL). The pictures are what random weights
draw: structured noise, not a likeness of the prompt.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
    ZImagePipeline,
    ZImageTransformer2DModel,
)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    PreTrainedTokenizerFast,
    Qwen3Config,
    Qwen3Model,
)

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


CLIP_SPECIAL_TOKENS = ["<|startoftext|>", "<|endoftext|>"]
CLIP_CONTEXT = 77  # CLIP's context length: SDXL reads this many tokens of a prompt


def _byte_level_bpe(special_tokens: list[str]) -> Tokenizer:
    """Byte-level BPE without merges: every UTF-8 byte is a token, so any prompt encodes."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: index for index, token in enumerate(special_tokens + alphabet)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(special_tokens)
    return backend


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Z-Image's: Qwen's special tokens and chat template."""
    backend = _byte_level_bpe(SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=SPECIAL_TOKENS[0], eos_token=SPECIAL_TOKENS[2], model_max_length=512
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _tiny_vae(*, latent_channels: int, scaling_factor: float, shift_factor: float | None = None) -> AutoencoderKL:
    """Four blocks: the real VAEs' 8x down-sampling, so latents and sizes behave like the real models'."""
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=[8, 8, 16, 16],
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=4,
        sample_size=64,
        scaling_factor=scaling_factor,
        shift_factor=shift_factor,
    )


def build_tiny_z_image(seed: int = 0) -> ZImagePipeline:
    """Same component classes as Tongyi-MAI/Z-Image-Turbo, with widths of a few dozen."""
    torch.manual_seed(seed)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=16,
        dim=32,
        n_layers=2,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        norm_eps=1e-5,
        qk_norm=True,
        cap_feat_dim=16,
        rope_theta=256.0,
        t_scale=1000.0,
        axes_dims=[8, 4, 4],
        # Caption positions come first on axis 0: room for the 512 prompt tokens and the image after them.
        axes_lens=[1536, 128, 128],
    )
    with torch.no_grad():  # created with torch.empty upstream; fix them so no NaN sneaks in
        transformer.x_pad_token.copy_(torch.ones_like(transformer.x_pad_token))
        transformer.cap_pad_token.copy_(torch.ones_like(transformer.cap_pad_token))
    vae = _tiny_vae(latent_channels=16, scaling_factor=0.3611, shift_factor=0.1159)  # Z-Image's (Flux's) latents
    tokenizer = build_tokenizer()
    text_encoder = Qwen3Model(
        Qwen3Config(
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=8,
            vocab_size=len(tokenizer),
            max_position_embeddings=512,
        )
    )
    pipeline = ZImagePipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def build_clip_tokenizer() -> PreTrainedTokenizerFast:
    """SDXL's (both of its tokenizers): each prompt wrapped in CLIP's start and end tokens, 77 at most."""
    backend = _byte_level_bpe(CLIP_SPECIAL_TOKENS)
    start, end = CLIP_SPECIAL_TOKENS
    backend.post_processor = processors.TemplateProcessing(
        single=f"{start} $A {end}", special_tokens=[(start, 0), (end, 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=start, eos_token=end, pad_token=end, model_max_length=CLIP_CONTEXT
    )


def build_tiny_sdxl(seed: int = 0) -> StableDiffusionXLPipeline:
    """Same component classes as stabilityai/stable-diffusion-xl-base-1.0, with widths of a few dozen."""
    torch.manual_seed(seed)
    tokenizer = build_clip_tokenizer()
    text_config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=len(tokenizer),
        projection_dim=32,
        max_position_embeddings=CLIP_CONTEXT,
        hidden_act="gelu",
    )
    # SDXL base's block layout (a plain block, then two with cross-attention), at widths of 16-32: about
    # 40 ms a step at 512 px on one CPU thread, a quarter of diffusers' two-block test UNet at that size.
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32, 32),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",  # SDXL's size and crop conditioning
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32,  # six time ids, then the pooled text embedding
        cross_attention_dim=64,  # both encoders' hidden states side by side
        norm_num_groups=1,
    )
    vae = _tiny_vae(latent_channels=4, scaling_factor=0.13025)  # SDXL's latents
    scheduler = EulerDiscreteScheduler(  # SDXL base's own scheduler configuration
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    pipeline = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer=tokenizer,
        tokenizer_2=build_clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def save_tiny_ip_adapter(weights_dir: str | Path, *, seed: int = 0) -> Path:
    """Random IP-Adapter weights for `build_tiny_sdxl`'s UNet, saved at DIFFUSION_WEIGHTS_DIR's IP-Adapter layout
    (ip_adapter.py) as the real h94/IP-Adapter files are: the adapter's safetensors (an image projection to four
    tokens, a key and value projection per cross-attention) and a CLIP image encoder saved with save_pretrained.
    Built as diffusers' own tests build theirs (create_ip_adapter_state_dict); returns the adapter's folder."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor
    from diffusers.models.embeddings import ImageProjection
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from . import ip_adapter

    unet = build_tiny_sdxl().unet
    torch.manual_seed(seed)
    channels, cross_dim = list(unet.config.block_out_channels), unet.config.cross_attention_dim
    tensors: dict[str, torch.Tensor] = {}
    key_id = 1  # the adapter numbers every attention processor, self-attention ones included, from 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        weights = IPAdapterAttnProcessor(hidden_size=hidden, cross_attention_dim=cross_dim, scale=1.0).state_dict()
        tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = weights["to_k_ip.0.weight"]
        tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = weights["to_v_ip.0.weight"]
        key_id += 2
    encoder_config = CLIPVisionConfig(
        hidden_size=32,
        projection_dim=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=4,
    )
    projection = ImageProjection(
        cross_attention_dim=cross_dim, image_embed_dim=encoder_config.projection_dim, num_image_text_embeds=4
    ).state_dict()
    tensors.update(
        {
            "image_proj.proj.weight": projection["image_embeds.weight"],
            "image_proj.proj.bias": projection["image_embeds.bias"],
            "image_proj.norm.weight": projection["norm.weight"],
            "image_proj.norm.bias": projection["norm.bias"],
        }
    )
    folder = Path(weights_dir) / ip_adapter.FOLDER / ip_adapter.SUBFOLDER
    folder.mkdir(parents=True, exist_ok=True)
    save_file({key: value.contiguous() for key, value in tensors.items()}, str(folder / ip_adapter.WEIGHT_NAME))
    CLIPVisionModelWithProjection(encoder_config).save_pretrained(folder / ip_adapter.IMAGE_ENCODER_FOLDER)
    return folder
