"""Prompt strings and token ids against transformers' Gemma4UnifiedProcessor on the tiny checkpoint's
tokenizer; media stacking; the streaming detokenizer keeps control tokens for the parser; bad input.

The reference image and video processors need torchvision, which is not installed: the reference
processor gets a stand-in image processor whose soft-token counts come from the reference's own sizing
rule (`get_aspect_ratio_preserving_size`), and a stand-in video processor that returns what the real one
made of the same clip (fixtures/video_reference.npz: frames sampled, fps, soft tokens per frame), so the
placeholder expansion is the reference's code throughout.
"""

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from engine.inputs.image import ImageInputs, preprocess_image
from engine.inputs.output_parser import OutputParser, coalesce, parse_output
from engine.inputs.prompt import PromptError, encode_prompt, load_tokenizer
from engine.inputs.template import load_template, render_chat

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string", "description": "File path"}},
                "required": ["path"],
            },
        },
    }
]
IMAGES = [Image.new("RGB", (100, 70), (200, 10, 30)), Image.new("RGB", (480, 96), (0, 90, 200))]
rng = np.random.default_rng(0)
AUDIOS = [
    rng.standard_normal(16001).astype(np.float32) * 0.1,
    rng.standard_normal(1000).astype(np.float32) * 0.1,
]

CASES = {
    "plain": ({"messages": [{"role": "user", "content": "Hello there, how are you?"}]}, 0, 0),
    "system_thinking": (
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Why is the sky blue?"},
            ],
            "enable_thinking": True,
        },
        0,
        0,
    ),
    "multi_turn_stripped_thinking": (
        {
            "messages": [
                {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "<|channel>thought\nadd<channel|>It is 4."},
                {"role": "user", "content": "And 3+3?"},
            ]
        },
        0,
        0,
    ),
    "two_images": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image"},
                        {"type": "text", "text": "versus"},
                        {"type": "image"},
                    ],
                }
            ]
        },
        2,
        0,
    ),
    "image_audio": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image"},
                        {"type": "audio"},
                        {"type": "audio"},
                        {"type": "text", "text": "Describe both."},
                    ],
                }
            ]
        },
        1,
        2,
    ),
    "tools": (
        {
            "messages": [
                {"role": "user", "content": "Show main.py"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"function": {"name": "read_file", "arguments": {"path": "main.py"}}}
                    ],
                    "tool_responses": [
                        {"name": "read_file", "response": {"text": "print('hi')", "lines": 1}}
                    ],
                },
            ],
            "tools": TOOLS,
        },
        0,
        0,
    ),
}


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    return load_tokenizer(tiny_checkpoint)


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    from transformers import AutoTokenizer, BatchFeature
    from transformers.image_processing_utils import ImageProcessingMixin
    from transformers.models.gemma4_unified.feature_extraction_gemma4_unified import (
        Gemma4UnifiedAudioFeatureExtractor,
    )
    from transformers.models.gemma4_unified.processing_gemma4_unified import (
        Gemma4UnifiedProcessor,
        get_aspect_ratio_preserving_size,
    )

    class StandInImageProcessor(ImageProcessingMixin):
        patch_size, pooling_kernel_size, max_soft_tokens = 16, 3, 280
        model_input_names = ("pixel_values", "image_position_ids")

        def __call__(self, images, **kwargs):
            flat = [
                im for group in images for im in (group if isinstance(group, list) else [group])
            ]
            counts = []
            for im in flat:
                h, w = get_aspect_ratio_preserving_size(im.height, im.width, 16, 280 * 9, 3)
                counts.append((h // 48) * (w // 48))
            return BatchFeature(
                {
                    "pixel_values": np.zeros((len(flat), 280, 6912), np.float32),
                    "num_soft_tokens_per_image": counts,
                }
            )

    class StandInVideoProcessor(ImageProcessingMixin):
        """Answers with the real video processor's sampling of the clip (set `clip` first)."""

        patch_size, pooling_kernel_size, max_soft_tokens = 16, 3, 70
        model_input_names = ("pixel_values_videos", "video_position_ids")
        clip: dict = {}

        def __call__(self, videos, **kwargs):
            from transformers.video_utils import VideoMetadata

            ref = self.clip
            meta = VideoMetadata(total_num_frames=int(ref["total_frames"]), fps=float(ref["fps"]),
                                 frames_indices=ref["frame_indices"].tolist())
            frames = len(ref["frame_indices"])
            return BatchFeature(
                {
                    "pixel_values_videos": np.zeros((frames, 70, 6912), np.float32),
                    "num_soft_tokens_per_video": [int(ref["num_soft_tokens"])],
                    "video_metadata": [meta],
                }
            )

    class ReferenceProcessor(Gemma4UnifiedProcessor):
        def check_argument_for_proper_class(self, argument_name, argument):
            return None  # lets the stand-in image processor (and no video processor) through

    return ReferenceProcessor(
        feature_extractor=Gemma4UnifiedAudioFeatureExtractor(),
        image_processor=StandInImageProcessor(),
        tokenizer=AutoTokenizer.from_pretrained(tiny_checkpoint),
        video_processor=StandInVideoProcessor(),
        chat_template=load_template(tiny_checkpoint),
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_text_and_ids_equal_the_reference_processor(name, tiny_checkpoint, tokenizer, reference):
    case, n_img, n_aud = CASES[name]
    images, audios = IMAGES[:n_img], AUDIOS[:n_aud]
    kw = {"enable_thinking": True} if case.get("enable_thinking") else {}
    ref_text = reference.apply_chat_template(
        case["messages"], tools=case.get("tools"), tokenize=False, add_generation_prompt=True, **kw
    )
    text = render_chat(
        case["messages"],
        template=load_template(tiny_checkpoint),
        tools=case.get("tools"),
        enable_thinking=bool(kw),
    )
    assert text == ref_text
    ref = reference(text=ref_text, images=images or None, audio=audios or None, return_tensors="np")
    ours = encode_prompt(text, tokenizer, images=images, audios=audios)
    assert ours.input_ids.dtype == np.int32 and ours.input_ids.shape == ref["input_ids"].shape
    np.testing.assert_array_equal(ours.input_ids, ref["input_ids"])
    assert int((ours.input_ids == tokenizer.bos_token_id).sum()) == 1  # the template's <bos> only
    if n_aud:
        np.testing.assert_array_equal(ours.input_features, ref["input_features"])
        np.testing.assert_array_equal(ours.input_features_mask, ref["input_features_mask"])
    else:
        assert ours.input_features is None and ours.input_features_mask is None
    if n_img:
        assert (
            ours.pixel_values.shape == (n_img, 280, 6912) and ours.pixel_values.dtype == np.float32
        )
        assert ours.image_position_ids.shape == (n_img, 280, 2)
        assert ours.image_token_counts == [
            int((ours.image_position_ids[i, :, 0] >= 0).sum()) for i in range(n_img)
        ]
    else:
        assert ours.pixel_values is None and ours.image_position_ids is None


@pytest.mark.parametrize("clip", ["two_minutes", "h264_aac"])
def test_video_text_and_ids_equal_the_reference_processor(
    clip, tiny_checkpoint, tokenizer, reference, video_clips, video_reference
):
    """A video's frames with their "mm:ss" timestamps, then its sound (the reference's order)."""
    from engine.inputs.video import read_video, with_soundtracks

    content = with_soundtracks(
        [{"type": "video", "video": video_clips[clip]}, {"type": "text", "text": "What happens?"}]
    )
    video = content[0]["video"]
    sound = [c["audio"] for c in content if c["type"] == "audio"]
    assert [c["type"] for c in content] == ["video"] + ["audio"] * len(sound) + ["text"]
    assert len(sound) == (1 if clip == "h264_aac" else 0)
    messages = [{"role": "user", "content": [{"type": c["type"]} if c["type"] != "text" else c
                                             for c in content]}]
    ref_text = reference.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    text = render_chat(messages, template=load_template(tiny_checkpoint))
    assert text == ref_text
    assert ("<|video|>\n\n<|audio|>" in text) == bool(sound)
    reference.video_processor.clip = video_reference[clip]
    ref = reference(text=ref_text, videos=[str(video_clips[clip])], audio=sound or None,
                    return_tensors="np")
    ours = encode_prompt(text, tokenizer, videos=[video], audios=sound)
    np.testing.assert_array_equal(ours.input_ids, ref["input_ids"])
    assert ours.pixel_values_videos.shape == (32, 70, 6912)
    assert ours.video_position_ids.shape == (32, 70, 2)
    assert ours.video_token_counts == [32 * video.num_soft_tokens]
    toks = tokenizer.convert_ids_to_tokens(ours.input_ids[0].tolist())
    assert toks.count("<|video|>") == 32 * video.num_soft_tokens
    if clip == "two_minutes":  # frames every 3.75 s: the last one is shown at 01:56
        assert "01:56" in tokenizer.decode(ours.input_ids[0].tolist())
    # A path is read the same way (without its sound, which is the caller's to add).
    again = encode_prompt(text, tokenizer, videos=[video_clips[clip]], audios=sound)
    np.testing.assert_array_equal(again.input_ids, ours.input_ids)
    np.testing.assert_array_equal(again.pixel_values_videos, ours.pixel_values_videos)
    assert set(ours.model_kwargs()) >= {"pixel_values_videos", "video_position_ids"}
    with pytest.raises(PromptError, match="share a soft-token budget"):
        other = read_video(video_clips[clip], max_soft_tokens=140, sound=False)
        encode_prompt("<|video|><|video|>", tokenizer, videos=[video, other])


def test_expansion_layout(tokenizer):
    ours = encode_prompt("a<|image|>b<|audio|>", tokenizer, images=IMAGES[:1], audios=AUDIOS[1:])
    toks = tokenizer.convert_ids_to_tokens(ours.input_ids[0].tolist())
    n, m = ours.image_token_counts[0], ours.audio_token_counts[0]
    assert m == 2 and n == preprocess_image(IMAGES[0], 280).num_soft_tokens
    i = toks.index("<|image>")
    assert toks[i + 1 : i + 1 + n] == ["<|image|>"] * n and toks[i + 1 + n] == "<image|>"
    j = toks.index("<|audio>")
    assert toks[j + 1 : j + 1 + m] == ["<|audio|>"] * m and toks[j + 1 + m] == "<audio|>"


def test_media_item_kinds_agree(tokenizer, tmp_path):
    png, wav = tmp_path / "a.png", tmp_path / "a.wav"
    IMAGES[0].save(png)
    sf.write(wav, AUDIOS[0], 16000, subtype="FLOAT")
    pre = preprocess_image(IMAGES[0], 140)
    runs = [
        encode_prompt("<|image|><|audio|>", tokenizer, images=[im], audios=[au], image_budget=140)
        for im, au in [(IMAGES[0], AUDIOS[0]), (png, wav), (pre, AUDIOS[0])]
    ]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.input_ids, runs[0].input_ids)
        np.testing.assert_array_equal(r.pixel_values, runs[0].pixel_values)
        np.testing.assert_array_equal(r.input_features, runs[0].input_features)
    assert runs[0].pixel_values.shape == (1, 140, 6912)
    assert set(runs[0].model_kwargs()) == {
        "pixel_values",
        "image_position_ids",
        "input_features",
        "input_features_mask",
    }


@pytest.mark.parametrize(
    "text, images, audios, match",
    [
        ("<|image|>", [], [], "1 image placeholder.*but 0 image"),
        ("no placeholder", IMAGES[:1], [], "0 image placeholder.*but 1 image"),
        ("<|audio|><|audio|>", [], AUDIOS[:1], "2 audio placeholder.*but 1 clip"),
        ("<|image><|image|><image|>", IMAGES[:1], [], "already holds <\\|image>"),
        ("<|video|>", [], [], "1 video placeholder.*but 0 video"),
        ("<|audio|>", [], [np.zeros((2, 640), np.float32)], "1-D mono"),
        ("<|audio|>", [], [np.zeros(0, np.float32)], "no samples"),
        ("<|audio|>", [], [np.zeros(751 * 640, np.float32)], "over the model's 30 s.*split_audio"),
    ],
)
def test_bad_input(tokenizer, text, images, audios, match):
    with pytest.raises(PromptError, match=match):
        encode_prompt(text, tokenizer, images=images, audios=audios)


def test_preprocessed_image_with_another_budget_is_refused(tokenizer):
    pre = preprocess_image(IMAGES[0], 70)
    assert isinstance(pre, ImageInputs)
    with pytest.raises(PromptError, match="budget of 70.*uses 280"):
        encode_prompt("<|image|>", tokenizer, images=[pre])


def test_load_tokenizer_errors_and_eos(tiny_checkpoint, tokenizer, tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokenizer files"):
        load_tokenizer(tmp_path)
    turn_end, tool_response = tokenizer.convert_tokens_to_ids(["<turn|>", "<|tool_response>"])
    assert {turn_end, tool_response} <= set(tokenizer.eos_token_ids)


def test_streaming_detokenizer_feeds_the_parser(tokenizer):
    out = (
        "<|channel>thought\nI should  read it.<channel|>Reading <main.py>\n\n<|tool_call>call:read_file{"
        'path:<|"|>main.py<|"|>,n:[1,-2.5,true]}<tool_call|><|tool_response>'
    )
    ids = tokenizer.encode(out, add_special_tokens=False)
    detok, parser, items, text = tokenizer.detokenizer, OutputParser(), [], []
    detok.reset()
    for i in ids:
        detok.add_token(i)
        segment = detok.last_segment  # reading it consumes it
        text.append(segment)
        items += parser.feed(segment)
    detok.finalize()
    segment = detok.last_segment
    text.append(segment)
    items += parser.feed(segment) + parser.finish()
    assert "".join(text) == out
    assert coalesce(items) == parse_output(out)
