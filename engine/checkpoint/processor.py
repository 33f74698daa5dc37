"""processor_config.json and preprocessor_config.json as the released checkpoint has them.

They let transformers' Gemma4UnifiedProcessor pieces load from the folder: the audio feature
extractor (640-sample frames at 16 kHz) and the image processor's settings (48-px patches, 280 soft
tokens by default, pixels rescaled to [0, 1] without normalization).
"""

from __future__ import annotations

from pathlib import Path

from .config import write_json
from .shapes import Shape


def feature_extractor_config(shape: Shape) -> dict:
    return {
        "audio_samples_per_token": shape.audio_embed_dim,
        "feature_extractor_type": "Gemma4UnifiedAudioFeatureExtractor",
        "feature_size": shape.audio_embed_dim,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "Gemma4UnifiedProcessor",
        "return_attention_mask": True,
        "sampling_rate": 16000,
    }


def image_processor_config(shape: Shape) -> dict:
    return {
        "do_convert_rgb": True,
        "do_normalize": False,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.0, 0.0, 0.0],
        "image_processor_type": "Gemma4UnifiedImageProcessor",
        "image_std": [1.0, 1.0, 1.0],
        "max_soft_tokens": 280,
        "patch_size": shape.patch_size,
        "pooling_kernel_size": shape.pooling_kernel_size,
        "processor_class": "Gemma4UnifiedProcessor",
        "rescale_factor": 1 / 255,
        "resample": 3,
    }


def write_processor(folder: Path, shape: Shape) -> None:
    write_json(
        folder / "preprocessor_config.json",
        {**image_processor_config(shape), **feature_extractor_config(shape)},
    )
    write_json(
        folder / "processor_config.json",
        {
            "audio_ms_per_token": 40,
            "feature_extractor": feature_extractor_config(shape),
            "image_processor": image_processor_config(shape),
            "processor_class": "Gemma4UnifiedProcessor",
        },
    )
