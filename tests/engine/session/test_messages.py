"""engine.session.messages: media payloads out of messages, for the prompt encoder and the template."""

from engine.session.messages import media_of, template_message


def test_media_and_template_message():
    content = [{"type": "text", "text": "look"}, {"type": "image", "image": "a.png"},
               {"type": "audio", "audio": b"wav"}, {"type": "video", "video": "clip.mp4"},
               {"type": "image", "image": "b.png"}]
    message = {"role": "user", "content": content}
    assert media_of(content) == {"images": ["a.png", "b.png"], "audios": [b"wav"], "videos": ["clip.mp4"]}
    assert media_of("plain text") == {"images": [], "audios": [], "videos": []}
    out = template_message(message)
    assert out["content"] == [{"type": "text", "text": "look"}, {"type": "image"}, {"type": "audio"},
                              {"type": "video"}, {"type": "image"}]
    assert message["content"][1] == {"type": "image", "image": "a.png"}  # the original is unchanged
    assert template_message({"role": "user", "content": "hi"}) == {"role": "user", "content": "hi"}
