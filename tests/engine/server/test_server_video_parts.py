"""Video parts of OpenAI-style requests: the shapes accepted, digests, loading, and clear 400s."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from grey_clips import grey_clip

from engine.inputs.video import VideoInputs
from engine.server import openai_convert as oc
from engine.server.conversation import turn_request
from engine.server.items import RequestError
from engine.server.video_parts import video_ref

WHERE = "messages[0].content[1]"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Six frames and 1.2 s of AAC sound in MP4."""
    return grey_clip(tmp_path_factory.mktemp("video") / "clip.mp4", frames=6, rate=5, step=40,
                     codec="libx264", options={"threads": "1", "preset": "ultrafast"}, sound_samples=19200)


def data_url(path, mime="video/mp4") -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def test_data_url_file_url_and_path_give_the_video_then_its_sound(clip):
    shapes = [
        {"type": "video_url", "video_url": {"url": data_url(clip)}},
        {"type": "video_url", "video_url": data_url(clip, "video/quicktime")},
        {"type": "input_video", "video_url": {"url": f"file://{clip}"}},
        {"type": "video_url", "video_url": {"url": str(clip)}},
    ]
    digests = []
    for part in shapes:
        digest, load = video_ref(part, WHERE)
        items = load()
        assert [i["type"] for i in items] == ["video", "audio"]
        assert isinstance(items[0]["video"], VideoInputs) and len(items[0]["video"].timestamps) == 6
        assert items[1]["audio"].dtype == np.float32
        digests.append(digest)
    assert digests[0] == digests[1] and digests[2] == digests[3] != digests[0]
    assert video_ref(shapes[0], WHERE)[0] == digests[0]  # the same video in a later request


def test_sound_false_leaves_the_sound_out_and_changes_the_digest(clip):
    with_sound, _ = video_ref({"type": "video_url", "video_url": {"url": str(clip)}}, WHERE)
    silent, load = video_ref(
        {"type": "video_url", "video_url": {"url": str(clip)}, "sound": False}, WHERE
    )
    assert [i["type"] for i in load()] == ["video"] and silent != with_sound
    _, load = video_ref({"type": "video_url", "video_url": {"url": str(clip), "sound": False}}, WHERE)
    assert [i["type"] for i in load()] == ["video"]


@pytest.mark.parametrize(
    "part, message",
    [
        ({"type": "video_url"}, "video_url must be a URL string"),
        ({"type": "video_url", "video_url": {"url": ""}}, "video_url must be a URL string"),
        ({"type": "video_url", "video_url": "https://example.com/a.mp4"}, "does not fetch remote"),
        ({"type": "video_url", "video_url": "data:image/png;base64,AAAA"}, "data:video/"),
        ({"type": "video_url", "video_url": "relative/clip.mp4"}, "an absolute path"),
        ({"type": "video_url", "video_url": "/no/such/clip.mp4"}, "does not exist"),
        ({"type": "video_url", "video_url": "x", "sound": "yes"}, "sound must be true or false"),
    ],
)
def test_bad_parts_are_named_at_parse_time(part, message):
    with pytest.raises(RequestError, match=message) as e:
        video_ref(part, WHERE)
    assert e.value.param == WHERE and e.value.status == 400


def test_local_files_can_be_turned_off(clip):
    with pytest.raises(RequestError, match="local files are turned off"):
        video_ref({"type": "video_url", "video_url": str(clip)}, WHERE, allow_files=False)
    video_ref({"type": "video_url", "video_url": data_url(clip)}, WHERE, allow_files=False)


def test_undecodable_data_is_a_client_error_when_loaded():
    _, load = video_ref({"type": "video_url", "video_url": "data:video/mp4;base64,!!!"}, WHERE)
    with pytest.raises(RequestError, match="not valid base64"):
        load()
    text = base64.b64encode(b"not a video at all" * 10).decode()
    _, load = video_ref({"type": "video_url", "video_url": f"data:video/mp4;base64,{text}"}, WHERE)
    with pytest.raises(RequestError, match=re.escape(WHERE) + ": video data .* is not a video") as e:
        load()
    assert e.value.param == WHERE


def test_the_chat_converter_takes_video_parts(clip):
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What moves?"},
                    {"type": "video_url", "video_url": {"url": data_url(clip)}},
                ],
            }
        ]
    }
    turn = turn_request(oc.parse_request(body)).turns[0]
    assert turn.key[0] == ("text", "What moves?") and turn.key[1][0] == "video"
    assert [i["type"] for i in turn.build()] == ["text", "video", "audio"]
    body["messages"][0]["content"][1] = {"type": "video", "video": "x"}
    with pytest.raises(RequestError, match="text, image_url, input_audio or video_url"):
        oc.parse_request(body)
