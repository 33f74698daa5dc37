"""Image, video and audio prompts: logits parity with transformers 5.23.0 (float32, CPU).

Relative error = max |ours - reference| / max |reference| over all logits; the bound is 1e-4. The reference runs
with the image-block masks docs/mask-rules.md chooses (full layers causal; on sliding layers an image's tokens see
each other both ways within the window), given to its forward() as `attention_mask`.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from hf_reference import (
    AUDIO,
    IMAGE,
    VIDEO,
    audio_inputs,
    image_inputs,
    prompt,
    reference_logits,
    rel_err,
    video_inputs,
)


def test_two_images_one_longer_than_window(loaded):
    ref, model, _ = loaded("T1")
    pixels, positions = image_inputs()
    ids = prompt(("text", 3, 1), ("image", 6), ("text", 2, 2), ("image", 4), ("text", 3, 3))
    expected = reference_logits(ref, ids, pixels, positions)
    ours = model(
        mx.array(ids), pixel_values=mx.array(pixels), image_position_ids=mx.array(positions)
    )
    assert rel_err(ours, expected) < 1e-4


def test_image_blocks_are_bidirectional(loaded):
    """Guards against a causal-only port: the reference's logits differ from a plain causal forward."""
    ref, model, _ = loaded("T1")
    pixels, positions = image_inputs()
    ids = prompt(("text", 2, 1), ("image", 6), ("text", 2, 2), ("image", 4))
    ours = model(
        mx.array(ids), pixel_values=mx.array(pixels), image_position_ids=mx.array(positions)
    )
    _, causal_model, _ = loaded("NONE")
    causal = causal_model(
        mx.array(ids), pixel_values=mx.array(pixels), image_position_ids=mx.array(positions)
    )
    assert rel_err(causal, reference_logits(loaded("NONE")[0], ids, pixels, positions)) < 1e-4
    assert rel_err(ours, reference_logits(ref, ids, pixels, positions)) < 1e-4
    # The first image token sees the later ones only when attention is bidirectional.
    inside = np.flatnonzero(ids[0] == IMAGE)[0]
    assert not np.allclose(np.array(ours[0, inside]), np.array(causal[0, inside]), atol=1e-3)


def test_the_port_follows_the_chosen_rule_not_forwards_default(loaded):
    """transformers' forward() ORs the image block into every layer; the port must not (docs/mask-rules.md)."""
    ref, model, _ = loaded("T1")
    pixels, positions = image_inputs()
    ids = prompt(("text", 2, 1), ("image", 6), ("text", 2, 2), ("image", 4), ("text", 2, 3))
    ours = model(mx.array(ids), pixel_values=mx.array(pixels), image_position_ids=mx.array(positions))
    assert rel_err(ours, reference_logits(ref, ids, pixels, positions)) < 1e-4
    assert rel_err(ours, reference_logits(ref, ids, pixels, positions, rule="forward")) > 1e-2


def test_audio_with_zero_frame_and_padded_tail(loaded):
    ref, model, _ = loaded("T1")
    frames, mask = audio_inputs()
    ids = prompt(("text", 2, 1), ("audio", 3), ("text", 2, 2), ("audio", 2), ("text", 2, 3))
    expected = reference_logits(ref, ids, frames=frames, mask=mask)
    ours = model(mx.array(ids), input_features=mx.array(frames), input_features_mask=mx.array(mask))
    assert rel_err(ours, expected) < 1e-4


@pytest.mark.parametrize("name", ["T1", "T4"])
def test_mixed_image_and_audio(loaded, name):
    ref, model, _ = loaded(name)
    pixels, positions = image_inputs(seed=5)
    frames, mask = audio_inputs(seed=6)
    ids = prompt(
        ("text", 2, 1),
        ("image", 6),
        ("audio", 3),
        ("text", 1, 2),
        ("image", 4),
        ("audio", 2),
        ("text", 2, 3),
    )
    expected = reference_logits(ref, ids, pixels, positions, frames, mask)
    ours = model(
        mx.array(ids),
        pixel_values=mx.array(pixels),
        image_position_ids=mx.array(positions),
        input_features=mx.array(frames),
        input_features_mask=mx.array(mask),
    )
    assert rel_err(ours, expected) < 1e-4


def test_embed_once_then_forward_equals_direct_call(loaded):
    _, model, _ = loaded("T1")
    frames, mask = audio_inputs()
    ids = mx.array(prompt(("audio", 3), ("audio", 2)))
    embeds = model.embed_inputs(
        ids, input_features=mx.array(frames), input_features_mask=mx.array(mask)
    )
    direct = model(ids, input_features=mx.array(frames), input_features_mask=mx.array(mask))
    assert mx.allclose(model(ids, input_embeddings=embeds), direct, atol=1e-6)


def test_placeholder_count_mismatch_is_a_clear_error(loaded):
    _, model, _ = loaded("T1")
    pixels, positions = image_inputs()
    ids = mx.array(prompt(("image", 5), ("image", 4)))
    with pytest.raises(ValueError, match="9 image placeholder tokens but 10 image patches"):
        model(ids, pixel_values=mx.array(pixels), image_position_ids=mx.array(positions))
    frames, mask = audio_inputs()
    with pytest.raises(ValueError, match="input_features_mask"):
        model(mx.array(prompt(("audio", 5))), input_features=mx.array(frames))
    with pytest.raises(ValueError, match="audio placeholder"):
        model(
            mx.array(prompt(("audio", 4))),
            input_features=mx.array(frames),
            input_features_mask=mx.array(mask),
        )
    assert AUDIO not in np.array(ids)


def test_video_frames_with_soundtrack_image_and_text(loaded):
    """Two videos (3 frames of 5 tokens, 2 frames of 4), the first one's sound right after it."""
    ref, model, _ = loaded("T1")
    first, first_pos = video_inputs(3, 5, seed=1)
    second, second_pos = video_inputs(2, 4, seed=2)
    pixels, positions = np.concatenate([first, second]), np.concatenate([first_pos, second_pos])
    image, image_pos = image_inputs(seed=3)
    frames, mask = audio_inputs(seed=4)
    ids = prompt(
        ("text", 2, 1), ("video", 3, 5), ("audio", 3), ("audio", 2),
        ("text", 2, 2), ("image", 6), ("image", 4), ("video", 2, 4), ("text", 3, 3),
    )
    expected = reference_logits(ref, ids, image, image_pos, frames, mask,
                                videos=(pixels, positions, [3, 2]))
    ours = model(
        mx.array(ids),
        pixel_values=mx.array(image), image_position_ids=mx.array(image_pos),
        input_features=mx.array(frames), input_features_mask=mx.array(mask),
        pixel_values_videos=mx.array(pixels), video_position_ids=mx.array(positions),
    )
    assert rel_err(ours, expected) < 1e-4


def test_each_video_frame_is_its_own_bidirectional_block(loaded):
    """Within a frame tokens see each other both ways; a frame never sees a later frame."""
    _, model, _ = loaded("T1")
    pixels, positions = video_inputs(2, 5, seed=5)
    ids = mx.array(prompt(("text", 2, 1), ("video", 2, 5), ("text", 2, 2)))
    slots = np.flatnonzero(np.array(ids)[0] == VIDEO)
    first_frame, second_frame = slots[:5], slots[5:]

    def logits(p):
        return np.array(model(ids, pixel_values_videos=mx.array(p),
                              video_position_ids=mx.array(positions)))[0]

    base = logits(pixels)
    later_patch = pixels.copy()
    later_patch[0, 4] = pixels[1, 0]  # the last patch of the first frame (a shift would be normalized away)
    changed = logits(later_patch)
    assert not np.allclose(changed[first_frame[0]], base[first_frame[0]], atol=1e-4)
    second = pixels.copy()
    second[1] = pixels[0]  # the whole second frame
    changed = logits(second)
    np.testing.assert_allclose(changed[: second_frame[0]], base[: second_frame[0]], atol=1e-6)
    assert not np.allclose(changed[second_frame], base[second_frame], atol=1e-4)


def test_video_placeholder_count_mismatch_is_a_clear_error(loaded):
    _, model, _ = loaded("T1")
    pixels, positions = video_inputs(2, 5)
    with pytest.raises(ValueError, match="9 video placeholder tokens but 10 video patches"):
        model(mx.array(prompt(("video", 1, 5), ("video", 1, 4))),
              pixel_values_videos=mx.array(pixels), video_position_ids=mx.array(positions))
    with pytest.raises(ValueError, match="video_position_ids"):
        model(mx.array(prompt(("video", 2, 5))), pixel_values_videos=mx.array(pixels))
