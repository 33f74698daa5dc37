"""Stop strings over streamed text."""

from engine.server.stops import StopMatcher


def test_stop_strings_split_across_deltas_are_found_and_never_sent():
    m = StopMatcher(["</end>", "STOP"])
    out = []
    for piece in ["Hello </", "en", "d> more"]:
        text, hit = m.feed(piece)
        out.append(text)
        if hit:
            break
    assert "".join(out) == "Hello " and hit == "</end>"


def test_text_that_only_looks_like_a_stop_start_is_released():
    m = StopMatcher(["STOP"])
    assert m.feed("a ST") == ("a ", None)
    assert m.feed("ory") == ("STory", None)
    assert m.feed("ST") == ("", None)
    assert m.flush() == "ST"
    assert StopMatcher([]).feed("anything") == ("anything", None)
