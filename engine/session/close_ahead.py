"""Closing a voice turn ahead of time: the closing tokens (and the answer's first tokens) fed before the end.

While the person speaks, the session feeds, after each batch of audio, what `end_voice` would feed if the
speech ended now (the zero-padded partial frame, `<eoa>`, the end of the turn and the generation prompt)
and keeps the logits of the last position: the first answer token is one sampling step away. Those rows
lie past `Session.offset` in the caches; more audio, or any other command, takes them back (a trim: the
session holds the rows back to the turn's start); `end_voice` with the same text and thinking setting keeps
them. At a pause (hands-free), `prepare_answer` goes further and decodes the answer's first tokens into the
caches after the close; `end_voice` with the same settings then streams them at once and decodes on.

Whether the close after each batch is worth it depends on the device, measured as the session goes
(`CloseAheadRate`): it is fed only while feeding the last batch plus a close takes less time than the audio
that batch brought lasts, so the prefill never falls behind the speech because of it. A GPU prefills 15
tokens in milliseconds and closes ahead after every batch; a CPU that needs seconds per token never does.
At a pause nothing else is being fed, so `prepare_answer` closes where the close takes less than the
silence left before the turn would end (a person going on waits at most that), then decodes the answer's
first tokens one at a time until another command waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.inputs.audio import SAMPLE_RATE
from engine.session.segments import Segment
from engine.session.voice_buffer import VoiceBuffer


@dataclass
class PreparedClose:
    """A close fed ahead of time: its rows are in the caches past the session's offset; the bookkeeping is here."""

    text: str  # the typed text the close includes ("" while recording)
    enable_thinking: bool
    segments: list[Segment]  # what the close fed, in order
    message: dict  # the user message it completes
    logits: object  # the last position's logits: the first answer token's distribution
    last_hidden: object
    tokens: int = field(init=False)
    answer: list[int] = field(default_factory=list)  # answer tokens decoded ahead (in the caches after the close)
    answer_settings: object = None  # the settings they were decoded with
    answer_stop: int | None = None  # the end token sampled after them (never fed), if one was

    def __post_init__(self) -> None:
        self.tokens = sum(len(s) for s in self.segments)

    def fits(self, text: str, enable_thinking: bool) -> bool:
        """Whether `end_voice(text)` with this thinking setting would feed exactly this close."""
        return text == self.text and enable_thinking == self.enable_thinking

    def answer_fits(self, settings) -> bool:
        """Whether an answer with `settings` would begin with the tokens decoded ahead."""
        return settings == self.answer_settings and (bool(self.answer) or self.answer_stop is not None)


def close_length(voice: VoiceBuffer, closing_ids: int, max_clip_tokens: int) -> int:
    """Tokens `end_voice` feeds now: the partial frame (after a clip boundary if the clip is full) and the closing ids."""
    partial = voice.pending_frames(final=True)
    boundary = 2 if partial and voice.clip_tokens + partial > max_clip_tokens else 0
    return partial + boundary + closing_ids


class CloseAheadRate:
    """Decides, from measured times, whether preparing the close keeps the prefill ahead of the speech.

    Args:
        wanted: True or False forces the choice; None decides from the measurements.
    """

    def __init__(self, wanted: bool | None = None) -> None:
        self.wanted = wanted
        self.batch_seconds = 0.0  # feeding the audio of the last append
        self.batch_samples = 0  # the samples that append brought
        self.batch_frames = 0
        self.close_seconds: float | None = None  # the last close fed ahead
        self.close_tokens = 0

    def record_batch(self, samples: int, frames: int, seconds: float) -> None:
        self.batch_samples, self.batch_frames, self.batch_seconds = samples, frames, seconds

    def record_close(self, tokens: int, seconds: float) -> None:
        self.close_tokens, self.close_seconds = tokens, seconds

    def estimated_close_seconds(self, tokens: int) -> float | None:
        """The last close's time scaled to `tokens`, else the last batch's time per frame; None before any."""
        if self.close_seconds is not None and self.close_tokens:
            return self.close_seconds * tokens / self.close_tokens
        if self.batch_frames:
            return self.batch_seconds * tokens / self.batch_frames
        return None

    def fits_within(self, tokens: int, seconds: float) -> bool:
        """Whether a close of `tokens` tokens is measured to take at most `seconds` (or is forced on)."""
        if self.wanted is True:
            return True
        close = self.estimated_close_seconds(tokens)
        return close is not None and close <= seconds

    def pays_off(self, tokens: int) -> bool:
        """Whether to prepare a close of `tokens` tokens after the batch just recorded."""
        if self.wanted is not None:
            return self.wanted
        close = self.estimated_close_seconds(tokens)
        if close is None:
            return False  # no audio frame measured yet: decide after the first
        return self.batch_seconds + close <= self.batch_samples / SAMPLE_RATE
