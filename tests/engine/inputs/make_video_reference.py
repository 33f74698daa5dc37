"""Make fixtures/video_reference.npz: what the reference makes of the clips in video_clips.py.

transformers' `Gemma4UnifiedVideoProcessor` needs torchvision, and its default decoder (and
`load_audio` for a video's sound) needs torchcodec; neither loads beside the project's torch
(shared/TESTING.md §5), so this runs once in a separate environment. The clips themselves are made
again by the test with the same code; their decoded content is hashed here ("clip_sha") so the test
can tell a changed clip from a broken pipeline. Per clip this stores:
- the processor's sampling: total frames, average fps, frame indices, timestamps;
- pixel values as uint8 levels (the processor's output is exactly level / 255 in float32, checked
  here): a SHA-256 of all of them, plus three rows of the first and last frame for diagnosis;
- position ids and the soft-token count per frame;
- the sound as `transformers.audio_utils.load_audio(path, sampling_rate=16000)` gives it: its length
  and every 16th sample.
The processor's defaults are the released checkpoint's (32 frames, 70 soft tokens per frame); a
clip with fewer than 32 frames is asked for all of its frames (with 32 the reference refuses it).

Regenerate (a few minutes for the environment; FFmpeg's shared libraries for torchcodec from Debian):
    apt-get install -y --no-install-recommends libavcodec59 libavformat59 libavutil57 \\
        libswresample4 libswscale6 libavdevice59 libavfilter8
    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 torchcodec==0.17.0 \\
        transformers==5.23.0 av==18.1.0 numpy pillow
    /tmp/refvenv/bin/python tests/engine/inputs/make_video_reference.py
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from video_clips import CLIPS, write_clip  # noqa: E402

DIAGNOSIS_ROWS = 3  # rows of the first and last frame kept, spread over the real blocks
SOUND_STRIDE = 16


def content_sha(path: Path) -> str:
    """SHA-256 of every frame decoded to RGB by PyAV's defaults (what the clip holds)."""
    import av

    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            digest.update(frame.to_ndarray(format="rgb24").tobytes())
    return digest.hexdigest()


def main() -> None:
    from transformers.audio_utils import load_audio
    from transformers.models.gemma4_unified.video_processing_gemma4_unified import (
        Gemma4UnifiedVideoProcessor,
    )

    processor = Gemma4UnifiedVideoProcessor()
    arrays: dict[str, np.ndarray] = {}
    folder = Path(tempfile.mkdtemp(prefix="video-ref-"))
    for name, clip in CLIPS.items():
        path = write_clip(clip, folder)
        kwargs = {"num_frames": clip.frames} if clip.frames < processor.num_frames else {}
        out = processor(videos=str(path), return_metadata=True, return_tensors="pt", **kwargs)
        meta = out["video_metadata"][0]
        pixels = out["pixel_values_videos"].numpy()
        levels = np.rint(pixels * 255).astype(np.uint8)
        assert np.array_equal(levels.astype(np.float32) / np.float32(255), pixels), name
        count = int(out["num_soft_tokens_per_video"][0])
        rows = np.linspace(0, count - 1, DIAGNOSIS_ROWS).astype(np.int64)
        a = {
            "clip_sha": np.array(content_sha(path)),
            "levels_sha": np.array(hashlib.sha256(levels.tobytes()).hexdigest()),
            "diagnosis_rows": rows,
            "first_rows": levels[0, rows],
            "last_rows": levels[-1, rows],
            "position_ids": out["video_position_ids"].numpy().astype(np.int16),
            "num_soft_tokens": np.array(count),
            "total_frames": np.array(int(meta.total_num_frames)),
            "fps": np.array(float(meta.fps)),
            "frame_indices": np.asarray(meta.frames_indices, np.int64),
            "timestamps": np.asarray(meta.timestamps, np.float64),
            "height": np.array(int(meta.height)),
            "width": np.array(int(meta.width)),
        }
        if clip.sound:
            sound = np.asarray(load_audio(str(path), sampling_rate=16_000), np.float32)
            a["sound_length"] = np.array(sound.shape[0])
            a["sound_every_16th"] = sound[::SOUND_STRIDE]
        for key, value in a.items():
            arrays[f"{name}/{key}"] = value
        print(f"{name:14s} frames {int(meta.total_num_frames):4d} fps {float(meta.fps):8.4f} "
              f"sampled {pixels.shape[0]:2d} tokens {a['num_soft_tokens']} "
              f"sound {a.get('sound_length', '-')}")
    np.savez_compressed(HERE / "fixtures" / "video_reference.npz", **arrays)


if __name__ == "__main__":
    main()
