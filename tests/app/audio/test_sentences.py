"""SentenceSplitter: speakable sentences from a streamed Markdown answer, whatever the chunking."""

from __future__ import annotations

import random

import pytest

from app.audio.sentences import SentenceSplitter, clean, split_sentences

ANSWER = """## Result
Use **`ls -la`** to list [the files](https://example.com/a.b). Pi is about 3.14, e.g. roughly.
Dr. Who met J. Smith at 5 p.m. today! Did he?
```python
print("never read aloud. Not even this!")
```
Intro line without a point
- first item
- second item. It has two sentences
1. a numbered step
> a quoted line

| name | size |
|------|------|
| a.txt | 3 |
Ends without a point"""

EXPECTED = [
    "Result",
    "Use ls -la to list the files.",
    "Pi is about 3.14, e.g. roughly.",
    "Dr. Who met J. Smith at 5 p.m. today!",
    "Did he?",
    "Intro line without a point",
    "first item",
    "second item.",
    "It has two sentences",
    "a numbered step",
    "a quoted line",
    "name, size",
    "a.txt, 3",
    "Ends without a point",
]


def _streamed(text: str, sizes: list[int]) -> list[str]:
    splitter, out, at, i = SentenceSplitter(), [], 0, 0
    while at < len(text):
        out += splitter.feed(text[at : at + sizes[i % len(sizes)]])
        at, i = at + sizes[i % len(sizes)], i + 1
    return out + splitter.flush()


def test_whole_answer_gives_the_spoken_sentences_without_code_or_marks() -> None:
    assert split_sentences(ANSWER) == EXPECTED


@pytest.mark.parametrize("sizes", [[1], [2, 3], [7], [1, 50, 4], [1000]])
def test_any_chunking_gives_the_same_sentences(sizes: list[int]) -> None:
    assert _streamed(ANSWER, sizes) == EXPECTED


def test_random_token_sized_chunks_give_the_same_sentences() -> None:
    rng = random.Random(5)
    for _ in range(20):
        assert _streamed(ANSWER, [rng.randint(1, 6) for _ in range(40)]) == EXPECTED


def test_a_sentence_comes_out_as_soon_as_the_character_after_it_arrives() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The first sentence is here.") == []  # could still be "here.com"
    assert splitter.feed(" The") == ["The first sentence is here."]
    assert splitter.feed(" second one is 3") == []
    assert splitter.feed(".5 long.") == []
    assert splitter.flush() == ["The second one is 3.5 long."]
    assert splitter.flush() == []  # flushed: a fresh start


def test_code_never_reaches_the_voice_even_when_the_fence_arrives_in_pieces() -> None:
    splitter = SentenceSplitter()
    out = []
    for piece in ["Look.\n`", "`", "`bash\nrm -rf build. Done", "!\n``", "`\nAfter the code. ", "x"]:
        out += splitter.feed(piece)
    out += splitter.flush()
    assert out == ["Look.", "After the code.", "x"]
    assert split_sentences("Text.\n```\nunclosed code. Here!\n") == ["Text."]


def test_inline_code_and_abbreviations_do_not_cut_a_sentence() -> None:
    assert split_sentences("Run `make build. Then test` now. Then stop.") == [
        "Run make build. Then test now.",
        "Then stop.",
    ]
    assert split_sentences("Compare A vs. B, i.e. the two. Done!") == [
        "Compare A vs. B, i.e. the two.",
        "Done!",
    ]


def test_a_paragraph_over_several_lines_is_one_sentence_and_a_blank_line_ends_it() -> None:
    assert split_sentences("This sentence goes\nover two lines. Next\n\nNew paragraph") == [
        "This sentence goes over two lines.",
        "Next",
        "New paragraph",
    ]


def test_marks_alone_say_nothing() -> None:
    assert split_sentences("---\n***\n# \n- \n**\n<br>\n") == []
    assert clean("<b>bold</b> and ![a cat](cat.png) with ~~gone~~ snake_case 3*4") == (
        "bold and a cat with gone snake_case 3*4"
    )
