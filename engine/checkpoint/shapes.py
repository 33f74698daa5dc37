"""Named checkpoint shapes: every number the writer needs to lay out a Gemma 4 unified model.

`SHAPES` maps a shape name ("tiny", "small", "12b") to a frozen `Shape`. "12b" is the released
Gemma 4 12B configuration; "small" keeps the real vocabulary and token ids with a narrower,
shallower stack; "tiny" is for tests (vocab 512, multimodal tokens at 500-506). Control tokens sit
at their real ids (0, 1, 2, 46-52, 98, 100, 101, 105-107) in every shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SLIDING = "sliding_attention"
FULL = "full_attention"

# Control tokens and their ids in the released tokenizer (same in every shape).
CONTROL_TOKENS: dict[str, int] = {
    "<pad>": 0,
    "<eos>": 1,
    "<bos>": 2,
    "<unk>": 3,
    "<mask>": 4,
    "<|tool>": 46,
    "<tool|>": 47,
    "<|tool_call>": 48,
    "<tool_call|>": 49,
    "<|tool_response>": 50,
    "<tool_response|>": 51,
    '<|"|>': 52,
    "<|think|>": 98,
    "<|channel>": 100,
    "<channel|>": 101,
    "<|turn>": 105,
    "<turn|>": 106,
}
NEWLINE_ID = 107  # "\n" is an ordinary vocabulary entry at 107, as in the released tokenizer

REAL_MEDIA_IDS: dict[str, int] = {
    "boi": 255_999,
    "boa": 256_000,
    "image": 258_880,
    "audio": 258_881,
    "eoi": 258_882,
    "eoa": 258_883,
    "video": 258_884,
}
TINY_MEDIA_IDS: dict[str, int] = {
    "boi": 500,
    "boa": 501,
    "image": 502,
    "audio": 503,
    "eoi": 504,
    "eoa": 505,
    "video": 506,
}
MEDIA_TOKENS: dict[str, str] = {
    "boi": "<|image>",
    "image": "<|image|>",
    "eoi": "<image|>",
    "boa": "<|audio>",
    "audio": "<|audio|>",
    "eoa": "<audio|>",
    "video": "<|video|>",
}


def pattern(n_layers: int, period: int = 6) -> tuple[str, ...]:
    """(period-1) sliding layers then one full layer, repeated; the last layer is always full."""
    types = [FULL if (i + 1) % period == 0 else SLIDING for i in range(n_layers)]
    types[-1] = FULL
    return tuple(types)


@dataclass(frozen=True)
class DrafterShape:
    """The MTP assistant stack (reference §7); attention geometry is borrowed from the target."""

    hidden_size: int
    intermediate_size: int
    layer_types: tuple[str, ...]
    num_attention_heads: int


@dataclass(frozen=True)
class Shape:
    name: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layer_types: tuple[str, ...]
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    global_head_dim: int
    num_global_key_value_heads: int
    attention_k_eq_v: bool
    sliding_window: int
    final_logit_softcapping: float | None
    mm_embed_dim: int
    mm_posemb_size: int
    media_ids: dict[str, int]
    dtype: str  # "float32" or "bfloat16": dtype of the unquantized weights
    drafter: DrafterShape
    audio_embed_dim: int = 640
    patch_size: int = 16
    pooling_kernel_size: int = 3
    extra: dict = field(default_factory=dict)

    @property
    def num_hidden_layers(self) -> int:
        return len(self.layer_types)

    @property
    def patch_dim(self) -> int:
        side = self.patch_size * self.pooling_kernel_size
        return side * side * 3


SHAPES: dict[str, Shape] = {
    "tiny": Shape(
        name="tiny",
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        layer_types=(SLIDING, SLIDING, FULL, SLIDING, SLIDING, FULL),
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        global_head_dim=32,
        num_global_key_value_heads=1,
        attention_k_eq_v=True,
        sliding_window=8,
        final_logit_softcapping=30.0,
        # mm_embed_dim == output_proj_dims (the projection reads the embedder's output) but
        # deliberately != hidden, so code that confuses the two fails on the tiny shape.
        mm_embed_dim=48,
        # Large enough for any position the image processor can emit (up to 1120 soft tokens).
        mm_posemb_size=1120,
        media_ids=TINY_MEDIA_IDS,
        dtype="float32",
        drafter=DrafterShape(
            hidden_size=32,
            intermediate_size=64,
            layer_types=(SLIDING, SLIDING, SLIDING, FULL),
            num_attention_heads=4,
        ),
    ),
    "small": Shape(
        name="small",
        vocab_size=262_144,
        hidden_size=1536,
        intermediate_size=6144,
        layer_types=pattern(12),
        num_attention_heads=8,
        num_key_value_heads=4,
        head_dim=256,
        global_head_dim=512,
        num_global_key_value_heads=1,
        attention_k_eq_v=True,
        sliding_window=1024,
        final_logit_softcapping=30.0,
        mm_embed_dim=1536,
        mm_posemb_size=1120,
        media_ids=REAL_MEDIA_IDS,
        dtype="bfloat16",
        drafter=DrafterShape(
            hidden_size=512,
            intermediate_size=2048,
            layer_types=(SLIDING, SLIDING, SLIDING, FULL),
            num_attention_heads=8,
        ),
    ),
    "12b": Shape(
        name="12b",
        vocab_size=262_144,
        hidden_size=3840,
        intermediate_size=15360,
        layer_types=pattern(48),
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=256,
        global_head_dim=512,
        num_global_key_value_heads=1,
        attention_k_eq_v=True,
        sliding_window=1024,
        final_logit_softcapping=30.0,
        mm_embed_dim=3840,
        mm_posemb_size=1120,
        media_ids=REAL_MEDIA_IDS,
        dtype="bfloat16",
        drafter=DrafterShape(
            hidden_size=1024,
            intermediate_size=8192,
            layer_types=(SLIDING, SLIDING, SLIDING, FULL),
            num_attention_heads=16,
        ),
    ),
}


def get_shape(name: str) -> Shape:
    """The named shape, or a ValueError that lists the known names."""
    try:
        return SHAPES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown checkpoint shape {name!r}; choose one of: {', '.join(SHAPES)}"
        ) from None
