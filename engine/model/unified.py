"""Gemma 4 unified: embeddings with image, video and audio soft tokens, the text decoder, the LM head.

Contract (DESIGN.md, "The engine's contract"; mlx-lm's model contract plus keyword options):
    model(inputs, cache=None, input_embeddings=None, *, pixel_values=None, image_position_ids=None,
          input_features=None, input_features_mask=None, pixel_values_videos=None, video_position_ids=None,
          logits_to_keep=None) -> logits
returns logits [B, L, vocab] after the final softcap (or [B, N, vocab] with logits_to_keep=N).
`model.hidden_states(...)` (same arguments, no logits_to_keep) gives the post-final-norm hidden state and
`model.logits(hidden)` applies the tied head and the softcap to it: `model(x) == model.logits(model.hidden_states(x))`.
Image, video-frame and audio features are scattered, unscaled, into the image_token_id / video_token_id /
audio_token_id placeholders in row-major order; video frames go through the same vision embedder as images
(the reference's get_video_features). The bidirectional blocks are the runs of image or video placeholders in
`inputs`: one image, or one video frame (its `<|image>`/`<image|>` markers separate it from the next). With a
cache, positions continue from the cache offset. `make_cache()` gives `engine.decode.cache` caches (mlx-lm's
cache protocol), one per layer that owns keys and values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import mlx.core as mx
import numpy as np
from mlx import nn

from engine.decode.cache import FullCache, QuantizedFullCache, Retention, SlidingCache

from .audio import AudioEmbedder
from .config import FULL, ModelConfig
from .masks import vision_block_ids
from .text import DecoderLayer, TextModel
from .vision import MultimodalEmbedder, VisionEmbedder

# Kept in full precision by quantization: the multimodal embedders are small (about 0.5% of the 12B's
# parameters) and sit before every image and audio token; norms, layer_scalar and the position table are not
# Linear/Embedding layers, so no quantizer touches them.
UNQUANTIZED_PREFIXES = ("vision_embedder.", "embed_vision.", "embed_audio.")


def should_quantize(path: str, in_dims: int, group_size: int) -> bool:
    """Whether the Linear/Embedding at `path` (our module names) is quantized."""
    return not path.startswith(UNQUANTIZED_PREFIXES) and in_dims % group_size == 0


def _quant_predicate(path: str, module: nn.Module) -> bool:
    return hasattr(module, "to_quantized") and not path.startswith(UNQUANTIZED_PREFIXES)


class InputNotSupported(ValueError):
    """The model was loaded without the weights this input needs (a text-only build given an image)."""


NO_VISION = (
    "This model was loaded without its vision weights (a text-only build), so it cannot read "
    "images. Load a build with vision to send pictures."
)
NO_VIDEO = (
    "This model was loaded without its vision weights (a text-only build), so it cannot watch "
    "videos. Load a build with vision to send videos."
)
NO_AUDIO = (
    "This model was loaded without its audio weights (a text-only build), so it cannot hear "
    "audio. Load a build with audio to talk to it or send recordings."
)


class Model(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        text = config.text_config
        self.language_model = TextModel(text)
        if config.vision_config is not None:
            vc = config.vision_config
            self.vision_embedder = VisionEmbedder(vc)
            self.embed_vision = MultimodalEmbedder(
                vc.output_proj_dims, text.hidden_size, vc.rms_norm_eps
            )
        if config.audio_config is not None:
            self.embed_audio = AudioEmbedder(config.audio_config, text.hidden_size)

    @property
    def has_vision(self) -> bool:
        """Whether images can be given (the checkpoint had the vision embedder's weights)."""
        return self.config.vision_config is not None

    @property
    def has_audio(self) -> bool:
        """Whether audio can be given (the checkpoint had the audio projection's weights)."""
        return self.config.audio_config is not None

    @property
    def layers(self) -> list[DecoderLayer]:
        return self.language_model.layers

    @property
    def embed_tokens(self) -> nn.Module:
        return self.language_model.embed_tokens

    @property
    def quant_predicate(self) -> Callable[[str, nn.Module], bool]:
        return _quant_predicate

    def last_layer_of_type(self, layer_type: str) -> int:
        """Index into make_cache()'s list of the last cache-owning layer of `layer_type`."""
        return self.language_model.last_layer_of_type(layer_type)

    def make_cache(self, retention: Retention = Retention(), kv_bits: int | None = None) -> list[Any]:
        """One cache per layer that owns keys and values; `retention` sizes the sliding caches' extra rows;
        `kv_bits` (8 or 4) quantizes the full-attention layers' keys and values (long contexts)."""
        text = self.config.text_config
        # In "all" mode a sliding query sees `window` past keys besides itself (|q - k| <= window).
        window = text.window + 1 if text.use_bidirectional_attention == "all" else text.window

        def full() -> Any:
            return FullCache() if kv_bits is None else QuantizedFullCache(kv_bits)

        return [
            full() if text.layer_types[i] == FULL else SlidingCache(window, retention)
            for i in self.language_model.cache_layers()
        ]

    def embed_inputs(
        self,
        input_ids: mx.array,
        pixel_values: mx.array | None = None,
        image_position_ids: mx.array | None = None,
        input_features: mx.array | None = None,
        input_features_mask: mx.array | None = None,
        pixel_values_videos: mx.array | None = None,
        video_position_ids: mx.array | None = None,
    ) -> mx.array:
        """Token embeddings (scaled by sqrt(hidden)) with image, video and audio soft tokens scattered in, unscaled.

        Args:
            input_ids: [B, L] token ids holding one placeholder per soft token.
            pixel_values: [num_images, max_soft_tokens, patch_dim] merged patches.
            image_position_ids: [num_images, max_soft_tokens, 2] (x, y) positions; padding rows are -1.
            input_features: [num_clips, frames, audio_embed_dim] raw audio frames.
            input_features_mask: [num_clips, frames] bool, True for real frames.
            pixel_values_videos: [num_video_frames, max_soft_tokens, patch_dim], the frames of all videos.
            video_position_ids: [num_video_frames, max_soft_tokens, 2]; padding rows -1.

        Returns:
            [B, L, hidden] embeddings.
        """
        cfg = self.config
        input_ids = _as_ids(input_ids)
        placeholders = (
            (input_ids == cfg.image_token_id)
            | (input_ids == cfg.video_token_id)
            | (input_ids == cfg.audio_token_id)
        )
        safe_ids = mx.where(placeholders, cfg.text_config.pad_token_id, input_ids)
        h = self.language_model.embed(safe_ids)
        B, L, H = h.shape
        flat = h.reshape(B * L, H)
        if pixel_values is None and input_features is None and pixel_values_videos is None:
            return h
        # Placeholder positions are read on the host: token ids are a leaf array, so this waits on no compute.
        ids = np.array(input_ids)
        if pixel_values is not None:
            flat = self._scatter_vision(flat, ids, pixel_values, image_position_ids, "image")
        if pixel_values_videos is not None:
            flat = self._scatter_vision(flat, ids, pixel_values_videos, video_position_ids, "video")
        if input_features is not None:
            flat = self._scatter_audio(flat, ids, input_features, input_features_mask)
        return flat.reshape(B, L, H)

    def _scatter_vision(
        self,
        flat: mx.array,
        ids: np.ndarray,
        pixel_values: mx.array,
        position_ids: mx.array | None,
        kind: str,
    ) -> mx.array:
        """Scatter image (kind "image") or video-frame (kind "video") features into their placeholders."""
        pixels_name, positions_name, what = {
            "image": ("pixel_values", "image_position_ids", "images"),
            "video": ("pixel_values_videos", "video_position_ids", "video_frames"),
        }[kind]
        if self.config.vision_config is None:
            raise InputNotSupported(NO_VISION if kind == "image" else NO_VIDEO)
        if position_ids is None:
            raise ValueError(f"{pixels_name} need {positions_name} (padding rows -1)")
        pixel_values, position_ids = mx.array(pixel_values), mx.array(position_ids)
        positions = np.array(position_ids)
        if pixel_values.ndim != 3 or positions.shape != (*pixel_values.shape[:2], 2):
            raise ValueError(
                f"{pixels_name} {tuple(pixel_values.shape)} and {positions_name} {positions.shape} must be "
                f"[num_{what}, max_soft_tokens, patch_dim] and [num_{what}, max_soft_tokens, 2]"
            )
        token_id = self.config.image_token_id if kind == "image" else self.config.video_token_id
        rows = np.flatnonzero((positions != -1).all(-1).reshape(-1))
        slots = np.flatnonzero(ids.reshape(-1) == token_id)
        if len(rows) != len(slots):
            raise ValueError(
                f"{len(slots)} {kind} placeholder tokens but {len(rows)} {kind} patches (non-padding rows)"
            )
        feats = self.embed_vision(self.vision_embedder(pixel_values, position_ids))
        feats = feats.reshape(-1, feats.shape[-1])[mx.array(rows)]
        return _scatter(flat, slots, feats)

    def _scatter_audio(
        self,
        flat: mx.array,
        ids: np.ndarray,
        input_features: mx.array,
        input_features_mask: mx.array | None,
    ) -> mx.array:
        if self.config.audio_config is None:
            raise InputNotSupported(NO_AUDIO)
        if input_features_mask is None:
            raise ValueError("input_features need input_features_mask (True for real frames)")
        input_features = mx.array(input_features)
        valid = np.array(input_features_mask).astype(bool)
        if input_features.ndim != 3 or valid.shape != tuple(input_features.shape[:2]):
            raise ValueError(
                f"input_features {tuple(input_features.shape)} and input_features_mask {valid.shape} must be "
                "[num_clips, frames, audio_embed_dim] and [num_clips, frames]"
            )
        rows = np.flatnonzero(valid.reshape(-1))
        slots = np.flatnonzero(ids.reshape(-1) == self.config.audio_token_id)
        if len(rows) != len(slots):
            raise ValueError(
                f"{len(slots)} audio placeholder tokens but {len(rows)} audio frames (mask True)"
            )
        feats = self.embed_audio(input_features.astype(flat.dtype))
        feats = feats.reshape(-1, feats.shape[-1])[mx.array(rows)]
        return _scatter(flat, slots, feats)

    def __call__(
        self,
        inputs: mx.array,
        cache: list[Any] | None = None,
        input_embeddings: mx.array | None = None,
        *,
        pixel_values: mx.array | None = None,
        image_position_ids: mx.array | None = None,
        input_features: mx.array | None = None,
        input_features_mask: mx.array | None = None,
        pixel_values_videos: mx.array | None = None,
        video_position_ids: mx.array | None = None,
        logits_to_keep: int | None = None,
    ) -> mx.array:
        """Logits [B, L, vocab] after the final softcap ([B, N, vocab] with `logits_to_keep=N`).

        Args:
            inputs: [B, L] token ids, with one placeholder per image, video-frame or audio soft token.
            cache: the per-layer caches from `make_cache()`; positions continue from their offset.
            input_embeddings: [B, L, hidden] embeddings to use instead of embedding `inputs` (from
                `embed_inputs`); `inputs` still gives the image and video-frame blocks of the mask.
            pixel_values, image_position_ids, input_features, input_features_mask, pixel_values_videos,
                video_position_ids: media, embedded and scattered into the placeholders (see
                `embed_inputs`); not together with `input_embeddings`.
            logits_to_keep: compute logits only for the last N positions (None: all).
        """
        hidden = self.hidden_states(
            inputs, cache, input_embeddings, pixel_values=pixel_values,
            image_position_ids=image_position_ids, input_features=input_features,
            input_features_mask=input_features_mask, pixel_values_videos=pixel_values_videos,
            video_position_ids=video_position_ids,
        )
        return self.logits(hidden[:, -logits_to_keep:] if logits_to_keep else hidden)

    def hidden_states(
        self,
        inputs: mx.array,
        cache: list[Any] | None = None,
        input_embeddings: mx.array | None = None,
        *,
        pixel_values: mx.array | None = None,
        image_position_ids: mx.array | None = None,
        input_features: mx.array | None = None,
        input_features_mask: mx.array | None = None,
        pixel_values_videos: mx.array | None = None,
        video_position_ids: mx.array | None = None,
    ) -> mx.array:
        """The post-final-norm hidden state [B, L, hidden] (what the drafter reads); same arguments as the call."""
        inputs = _as_ids(inputs)
        media = dict(pixel_values=pixel_values, image_position_ids=image_position_ids,
                     input_features=input_features, input_features_mask=input_features_mask,
                     pixel_values_videos=pixel_values_videos, video_position_ids=video_position_ids)
        if input_embeddings is None:
            input_embeddings = self.embed_inputs(inputs, **media)
        elif any(m is not None for m in media.values()):
            raise ValueError("pass either input_embeddings or media (pixel_values, input_features, "
                             "pixel_values_videos), not both")
        elif input_embeddings.shape[:2] != inputs.shape:
            raise ValueError(
                f"input_embeddings {input_embeddings.shape} does not match inputs {inputs.shape}"
            )
        cfg = self.config
        blocks = None
        # One token alone forms no bidirectional pair; skipping the host read keeps decoding free of syncs.
        if cfg.text_config.use_bidirectional_attention == "vision" and inputs.shape[1] > 1:
            blocks = vision_block_ids(np.array(inputs), (cfg.image_token_id, cfg.video_token_id))
        return self.language_model(input_embeddings, cache, blocks)

    def logits(self, hidden: mx.array) -> mx.array:
        """The tied LM head and the final softcap on hidden states [B, L, hidden]."""
        logits = self.language_model.embed_tokens.as_linear(hidden)
        cap = self.config.text_config.final_logit_softcapping
        if cap is not None:
            logits = mx.tanh(logits / cap) * cap
        return logits

    def sanitize(self, weights: dict[str, mx.array]) -> dict[str, mx.array]:
        """Map HF, mlx-vlm and our own tensor names to this module tree; drop tensors it does not use."""
        return sanitize_weights(self.config, weights)


def sanitize_weights(config: ModelConfig, weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """`Model.sanitize` without a model: usable shard by shard (conversion never builds the model)."""
    text = config.text_config
    shared = {i for i in range(text.num_hidden_layers) if text.is_kv_shared(i)}
    out = {}
    for name, w in weights.items():
        name = canonical_name(name)
        if name is None:
            continue
        m = re.match(
            r"language_model\.layers\.(\d+)\.self_attn\.(k_proj|v_proj|k_norm|v_norm)\.", name
        )
        if m and int(m.group(1)) in shared:
            continue  # KV-shared layers read their producer's keys and values
        if name.startswith("embed_audio.") and config.audio_config is None:
            continue
        if name.startswith(("vision_embedder.", "embed_vision.")) and config.vision_config is None:
            continue
        out[name] = w
    return out


def canonical_name(name: str) -> str | None:
    """This module tree's name for a tensor or module named the HF, mlx-vlm or mlx-lm way; None if unused."""
    if "rotary_emb" in name or re.match(r"(model\.)?(language_model\.)?lm_head(\.|$)", name):
        return None  # rotary tables are recomputed; the LM head is tied to the embedding
    name = name.removeprefix("model.")
    if name.startswith("language_model.model."):  # mlx-vlm layout
        name = "language_model." + name[len("language_model.model.") :]
    # A live transformers model's state_dict names (the saved files use the names above).
    name = name.replace("embed_vision.multimodal_embedder.", "embed_vision.")
    m = re.match(
        r"embed_vision\.(patch_ln1|patch_dense|patch_ln2|pos_embedding|pos_norm)(.*)", name
    )
    if m:
        name = f"vision_embedder.{m.group(1)}{m.group(2)}"
    return name


def _as_ids(input_ids: Any) -> mx.array:
    ids = input_ids if isinstance(input_ids, mx.array) else mx.array(np.asarray(input_ids))
    if ids.ndim != 2:
        raise ValueError(f"input_ids must be [batch, length], got shape {tuple(ids.shape)}")
    return ids


def _scatter(flat: mx.array, slots: np.ndarray, feats: mx.array) -> mx.array:
    flat[mx.array(slots)] = feats.astype(flat.dtype)
    return flat
