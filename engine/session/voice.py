"""A session's voice turn: audio prefilled while the person speaks, the close fed ahead, the answer begun at a pause.

`VoiceTurns` is the voice half of `engine.session.Session` (a base class of it; it uses the session's feeding,
marks and answering). A turn: `_start_voice` feeds the turn's opening and `<boa>`; `_append_audio` buffers
samples and prefills the complete 640-sample frames `audio_chunk_frames` at a time (a clip that reaches the
model's 30 s budget goes on as a new clip of the same turn), then, where the device keeps up, feeds the
close ahead (`engine.session.close_ahead`); `_prepare_answer` (hands-free, at a pause) feeds the close if it
is not in yet and decodes the answer's first tokens after it until another command waits; `_end_voice` keeps
what was fed ahead when it is what it would feed (same typed text, thinking and sampling settings), else
takes it back and feeds the close itself. What is fed ahead lies past `self.offset` in the caches and is
part of no state the transaction records: every other command takes it back first (`drop_prepared_close`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Iterator

import numpy as np

from engine import protocol as ev
from engine.decode import cache as kv_cache
from engine.decode.generation import Step, generate_tokens
from engine.decode.sampling import TokenConstraint
from engine.inputs.audio import MAX_AUDIO_TOKENS
from engine.session.close_ahead import PreparedClose, close_length
from engine.session.errors import ContextTooLong, SessionError
from engine.session.segments import Segment
from engine.session.voice_buffer import VoiceBuffer


class VoiceTurns:
    """The voice commands of a `Session` (module docstring); the public methods are the session's."""

    # ------------------------------------------------------------------ commands

    def _start_voice(self, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        if self.voice is not None:
            raise SessionError("a voice turn is already open")
        message = {"role": "user", "content": [{"type": "audio"}]}
        text, _ = self._new_turn_text(message, settings.enable_thinking)
        head = text[: text.index("<|audio|>")]
        ids = self._encode(head) + [self.boa_token_id]
        self._check_room(len(ids), settings.max_tokens)
        self._begin_turn()
        self.voice = VoiceBuffer()
        self.voice_thinking = settings.enable_thinking
        self.closing_ids = {}
        yield from self._feed_plain(ids)

    def _append_audio(self, samples: np.ndarray) -> Iterator[ev.Event]:
        if self.voice is None:
            raise SessionError("no voice turn is open: start one before sending audio")
        self.drop_prepared_close()
        self.voice.add(samples)
        started, offset = time.perf_counter(), self.offset
        yield from self._feed_voice(final=False)
        self.close_rate.record_batch(len(samples), self.offset - offset, time.perf_counter() - started)
        yield from self._close_ahead(forced=False)

    def _prepare_answer(self, settings: ev.GenerationSettings, another_waits: Callable[[], bool],
                        within_s: float | None) -> Iterator[ev.Event]:
        if self.voice is None:
            raise SessionError("no voice turn is open")
        if settings.constraint is not None or self.options.answer_ahead_tokens <= 0:
            return  # a constrained answer is decoded with its constraint, at the end
        if self.prepared_close is None or not self.prepared_close.fits("", settings.enable_thinking):
            self.drop_prepared_close()
            # One forward a person going on would wait for: fed where it ends within the silence left.
            yield from self._close_ahead(forced=True, enable_thinking=settings.enable_thinking,
                                         within_s=within_s)
        prepared = self.prepared_close
        if prepared is None or prepared.answer_settings is not None or another_waits():
            return
        self._decode_ahead(prepared, settings, another_waits)

    def _end_voice(self, text: str, settings: ev.GenerationSettings,
                   constraint: TokenConstraint | None) -> Iterator[ev.Event]:
        if self.voice is None:
            raise SessionError("no voice turn is open")
        prepared = self.prepared_close
        if prepared is not None and prepared.fits(text, settings.enable_thinking):
            plain = constraint is None and settings.constraint is None
            ahead = self._keep_close(prepared, keep_answer=plain and prepared.answer_fits(settings))
            yield from self._accept()
            yield from self._answer(prepared.logits, settings, constraint=constraint, ahead=ahead)
            return
        self.drop_prepared_close()
        message, ids = self._closing(text, settings.enable_thinking)
        self._check_room(close_length(self.voice, len(ids), MAX_AUDIO_TOKENS), settings.max_tokens)
        yield from self._feed_voice(final=True)
        self.voice = None
        self.messages.append(message)
        logits = yield from self._prefill(Segment(np.asarray(ids, np.int32)))
        yield from self._accept()
        yield from self._answer(logits, settings, constraint=constraint)

    def drop_prepared_close(self) -> None:
        """Take what was fed ahead back out of the caches (before anything else uses them)."""
        prepared, self.prepared_close = self.prepared_close, None
        if prepared is not None:
            self._drop_rows_after(self.offset)

    # ------------------------------------------------------------------ feeding

    def _feed_voice(self, final: bool) -> Iterator[ev.Event]:
        voice = self.voice
        batch = self.options.audio_chunk_frames
        while True:
            room = MAX_AUDIO_TOKENS - voice.clip_tokens
            if room == 0 and voice.pending_frames(final):
                # The clip is full (30 s): close it and go on in a new clip of the same turn.
                yield from self._feed_plain([self.eoa_token_id, self.boa_token_id])
                voice.new_clip()
                continue
            frames = voice.take_frames(min(batch, room), final=final)
            if frames is None:
                return
            seg = Segment(
                ids=np.full((len(frames),), self.audio_token_id, np.int32),
                input_features=frames[None],
                input_features_mask=np.ones((1, len(frames)), bool),
            )
            self._check_room(len(frames), 0)
            yield from self._prefill(seg, want_logits=False)
            voice.clip_tokens += len(frames)

    def _closing(self, text: str, enable_thinking: bool) -> tuple[dict, list[int]]:
        """The open voice turn's user message and the ids that close it after its audio.

        The ids are rendered from the whole conversation, which does not change while the turn is open:
        they are kept per clip count, text and thinking setting for the turn (`closing_ids`), so the close
        fed after every audio batch does not render the chat template again each time.
        """
        content = [{"type": "audio"} for _ in range(self.voice.clips)]
        if text.strip():
            content.append({"type": "text", "text": text})
        message = {"role": "user", "content": content}
        key = (self.voice.clips, text, enable_thinking)
        if key not in self.closing_ids:
            rendered, _ = self._new_turn_text(message, enable_thinking)
            tail = rendered[rendered.rindex("<|audio|>") + len("<|audio|>"):]
            self.closing_ids[key] = [self.eoa_token_id] + self._encode(tail)
        return message, list(self.closing_ids[key])

    def _close_ahead(self, forced: bool, enable_thinking: bool | None = None,
                     within_s: float | None = None) -> Iterator[ev.Event]:
        """Feed the close `end_voice("")` would feed now, past `self.offset` (module docstring): after a
        batch where it `pays_off`, or `forced` (at a pause; with `within_s`, where it fits in that time)."""
        thinking = self.voice_thinking if enable_thinking is None else enable_thinking
        message, ids = self._closing("", thinking)
        n = close_length(self.voice, len(ids), MAX_AUDIO_TOKENS)
        if n > kv_cache.room_past(self.cache, self.offset):
            return  # the caches could not surely trim it away again
        if not forced and not self.close_rate.pays_off(n):
            return  # not worth it on this device now
        if forced and within_s is not None and not self.close_rate.fits_within(n, within_s):
            return  # too slow here: a person going on would wait for it
        try:
            self._check_room(n, 1)
        except ContextTooLong:
            return  # end_voice says so
        voice, offset, n_segments = self.voice, self.offset, len(self.segments)
        self.voice = copy.copy(voice)  # its arrays are replaced, never written
        started = time.perf_counter()
        try:
            yield from self._feed_voice(final=True)
            logits = yield from self._prefill(Segment(np.asarray(ids, np.int32)))
        finally:  # fed past the offset: nothing of it is recorded (a failure trims it with the command)
            segments = self.segments[n_segments:]
            self.voice, self.offset = voice, offset
            del self.segments[n_segments:]
        self.close_rate.record_close(n, time.perf_counter() - started)
        self.prepared_close = PreparedClose("", thinking, segments, message, logits, self.last_hidden)

    def _decode_ahead(self, prepared: PreparedClose, settings: ev.GenerationSettings,
                      another_waits: Callable[[], bool]) -> None:
        """Decode the answer's first tokens after the close, until another command waits (plain decoding)."""
        start = self.offset + prepared.tokens
        # Only what the caches can surely trim away again: the person may go on (no replay then).
        room = kv_cache.room_past(self.cache, self.offset) - prepared.tokens
        limit = min(self.options.answer_ahead_tokens, settings.max_tokens, room,
                    self.context_length - start - 1)
        if limit <= 0:
            return
        prepared.answer_settings = settings
        config = self.gen_config.suppressing(self.input_only)
        steps = generate_tokens(self.model, self.cache, prepared.logits,
                                settings=replace(settings, max_tokens=limit),
                                config=config)
        try:
            for step in steps:
                if step.stop:
                    prepared.answer_stop = step.token  # sampled, never fed
                    return
                prepared.answer.append(step.token)
                if self.cancel.is_set() or another_waits():
                    return
        finally:
            steps.close()

    # ------------------------------------------------------------------ keeping

    def _keep_close(self, prepared: PreparedClose, keep_answer: bool) -> list[Step]:
        """Make a close fed ahead part of the turn, as `_end_voice` would have fed it; the answer steps
        decoded ahead that the answer begins with (their rows stay in the caches), or none."""
        self.prepared_close = None
        self.segments.extend(prepared.segments)
        self.offset += prepared.tokens
        self.messages.append(prepared.message)
        self.voice = None
        self.last_hidden = prepared.last_hidden
        if not keep_answer:
            self._drop_rows_after(self.offset)
            return []
        steps = [Step(t) for t in prepared.answer]
        if prepared.answer_stop is not None:
            steps.append(Step(prepared.answer_stop, stop=True))
        return steps

    def _drop_rows_after(self, offset: int) -> None:
        """Trim the caches back to `offset` (the tokens up to it recorded in `self.segments`)."""
        if self.cache and self.cache[0].offset > offset:
            for _ in self._rebuild_cache(offset):
                pass  # a trim, unless the rows were let go: then the newest kept point and a replay
