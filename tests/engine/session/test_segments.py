"""engine.session.segments: segments from encoded prompts, and chunk ends that keep image blocks whole."""

import numpy as np

from engine.inputs.prompt import PromptInputs
from engine.session.segments import segment_of, vision_runs_end

IMG, VID = 9, 8


def test_chunk_ends_never_cut_a_run_of_image_tokens():
    ids = np.array([1, 2, IMG, IMG, IMG, 3, IMG, IMG, 4])
    assert vision_runs_end(ids, 0, 2, (IMG, VID)) == 2  # before the block
    assert vision_runs_end(ids, 0, 3, (IMG, VID)) == 5  # inside it: to its end
    assert vision_runs_end(ids, 5, 7, (IMG, VID)) == 8
    assert vision_runs_end(ids, 0, 9, (IMG, VID)) == 9


def test_chunk_ends_never_cut_a_video_frame_and_stop_between_frames():
    # Two frames, each a run of video tokens between its markers (1 and 2 stand for <|image> and <image|>).
    ids = np.array([1, VID, VID, VID, 2, 1, VID, VID, 2, IMG, IMG])
    assert vision_runs_end(ids, 0, 2, (IMG, VID)) == 4  # inside the first frame: to its end
    assert vision_runs_end(ids, 0, 5, (IMG, VID)) == 5  # between frames: where it was
    assert vision_runs_end(ids, 5, 7, (IMG, VID)) == 8
    assert vision_runs_end(ids, 8, 10, (IMG, VID)) == 11  # an image right after a frame
    assert vision_runs_end(ids, 0, 2, (IMG,)) == 2  # video tokens count only when named


def test_segment_of_an_encoded_prompt():
    inputs = PromptInputs(input_ids=np.array([[5, 6, 7]]), input_features=np.zeros((1, 2, 640), np.float32),
                          input_features_mask=np.ones((1, 2), bool))
    seg = segment_of(inputs)
    assert seg.ids.dtype == np.int32 and seg.ids.tolist() == [5, 6, 7] and len(seg) == 3
    assert seg.media()["input_features"].shape == (1, 2, 640) and seg.media()["pixel_values"] is None


def test_segment_of_a_prompt_with_video_frames_keeps_them():
    inputs = PromptInputs(input_ids=np.array([[VID, VID]]),
                          pixel_values_videos=np.ones((2, 1, 6912), np.float32),
                          video_position_ids=np.zeros((2, 1, 2), np.int32))
    media = segment_of(inputs).media()
    assert media["pixel_values_videos"].shape == (2, 1, 6912)
    assert media["video_position_ids"].shape == (2, 1, 2) and media["pixel_values"] is None
