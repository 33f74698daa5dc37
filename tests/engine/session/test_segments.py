"""engine.session.segments: segments from encoded prompts, and chunk ends that keep image blocks whole."""

import numpy as np

from engine.inputs.prompt import PromptInputs
from engine.session.segments import image_runs_end, segment_of

IMG = 9


def test_chunk_ends_never_cut_a_run_of_image_tokens():
    ids = np.array([1, 2, IMG, IMG, IMG, 3, IMG, IMG, 4])
    assert image_runs_end(ids, 0, 2, IMG) == 2  # before the block
    assert image_runs_end(ids, 0, 3, IMG) == 5  # inside it: to its end
    assert image_runs_end(ids, 5, 7, IMG) == 8
    assert image_runs_end(ids, 0, 9, IMG) == 9


def test_segment_of_an_encoded_prompt():
    inputs = PromptInputs(input_ids=np.array([[5, 6, 7]]), input_features=np.zeros((1, 2, 640), np.float32),
                          input_features_mask=np.ones((1, 2), bool))
    seg = segment_of(inputs)
    assert seg.ids.dtype == np.int32 and seg.ids.tolist() == [5, 6, 7] and len(seg) == 3
    assert seg.media()["input_features"].shape == (1, 2, 640) and seg.media()["pixel_values"] is None
