"""A live conversation: one KV cache that lives from turn to turn.

Contract:
- Each public method that does model work is a generator of `engine.protocol` events (without ids; the
  engine thread gives them theirs). It checks `self.cancel` between prefill chunks and between tokens.
- A user turn feeds only the new tokens. The answer stays in the cache; the next turn continues there.
  The cache is the truth: "turn N" equals a fresh prefill of `self.token_ids()`, the tokens fed so far.
- New text comes from the chat template: the conversation rendered with and without the new message;
  the difference is fed after closing the previous answer with `<turn|>\\n` (the Gemma 4 format).
- Rollback and regenerate come back to a mark (`engine.session.marks`) through `_rewind`, the one place
  that decides how: trim the caches when they still hold the rows, else restore a snapshot and feed the
  segments after it again. Cancel in prefill undoes the turn; cancel in decode keeps the partial answer.
  An image block is never split across prefill chunks.
- Context policy: a turn whose prompt does not fit (with room for at least one answer token) is
  refused with a clear error and nothing changes; past 80% of the context a warning is sent; decoding
  stops at the limit with reason "length" and a warning. Nothing is ever truncated silently.
- Voice turns: `start_voice`, `append_audio` (complete 640-sample frames are prefilled in small batches
  while recording goes on; clips longer than the model's 30 s budget continue as a new clip in the same
  turn), `end_voice` (the partial frame is zero-padded, the closing tokens are fed) and the answer.
  Where the device keeps up, the close is fed ahead after each audio batch and taken back when more audio
  comes (`engine.session.close_ahead`); `end_voice` then only samples. Every other command drops it first.
- The answering methods take an optional `TokenConstraint` (constrained decoding), which decodes plainly;
  without one, `settings.constraint` (plain data, `engine.decode.grammar`) builds one.
- Special tokens other than the output parser's (`engine.inputs.special_tokens`) stay in the cache but
  never become answer text.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, replace
from typing import Iterator

import mlx.core as mx
import numpy as np

from engine import protocol as ev
from engine.admission import memory_shortfall
from engine.decode import cache as kv_cache
from engine.decode.cache import CacheTransaction, Retention
from engine.decode.generation import DecodeStats, GenerationConfig, drafter_pays_off, generate_tokens
from engine.decode.sampling import TokenConstraint
from engine.decode.speculative import MTPDraftSource, generate_speculative
from engine.inputs.audio import MAX_AUDIO_TOKENS
from engine.inputs.output_parser import TOOL_RESPONSE, OutputParser, ParseError, Text, Thinking
from engine.inputs.prompt import encode_prompt
from engine.inputs.special_tokens import hidden_token_ids
from engine.inputs.template import render_chat, render_tool_results
from engine.inputs.types import ToolCall
from engine.session.errors import Cancelled, ContextTooLong, NotFound, SessionError
from engine.session.close_ahead import CloseAheadRate, PreparedClose, close_length
from engine.session.history import plan_history
from engine.session.marks import Mark, drop_old_snapshots, newest_snapshot_before
from engine.session.messages import media_of, template_message
from engine.session.persistence import SavedSession
from engine.session.segments import Segment, image_runs_end, segment_of
from engine.session.voice_buffer import VoiceBuffer

CLOSE_ANSWER = "<turn|>\n"
WARN_FRACTION = 0.8


@dataclass
class SessionOptions:
    system_prompt: str = ""
    tools: list[dict] | None = None
    image_budget: int = 280
    context_length: int | None = None
    chunk_tokens: int = 256
    audio_chunk_frames: int = 25  # 1 s of audio per prefill step while recording
    max_snapshots: int = 0  # marks that keep a copy of the sliding rows (window - 1 each); 0: none
    retention: Retention = Retention()  # rows sliding caches keep beyond their window, for rollback
    kv_bits: int | None = None  # 8 or 4: the full-attention layers' keys and values quantized
    close_ahead: bool | None = None  # feed a voice turn's close after each batch; None: where it keeps up


class Session:
    def __init__(self, model, tokenizer, template: str, gen_config: GenerationConfig,
                 options: SessionOptions | None = None, drafter=None,
                 cancel: threading.Event | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.gen_config = gen_config
        self.options = options or SessionOptions()
        self.drafter = drafter
        self.cancel = cancel if cancel is not None else threading.Event()
        cfg = model.config
        self.image_token_id = cfg.image_token_id
        self.audio_token_id = cfg.audio_token_id
        self.boa_token_id = cfg.boa_token_id
        self.eoa_token_id = cfg.eoa_token_index
        # The model stops at <|tool_response> to wait for tool results.
        self.tool_response_id = tokenizer.convert_tokens_to_ids(TOOL_RESPONSE)
        limit = cfg.text_config.max_position_embeddings
        self.context_length = min(limit, self.options.context_length or limit)
        self.close_rate = CloseAheadRate(self.options.close_ahead)  # this device's prefill rate
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        self.cache = self.model.make_cache(self.options.retention, kv_bits=self.options.kv_bits)
        self.segments: list[Segment] = []
        self.offset = 0
        self.messages: list[dict] = self._system_messages()
        self.turns: list[Mark] = []  # one per user turn, taken before its tokens
        self.answer_marks: list[Mark] = []  # one per user turn, taken right after its prefill
        self.answer_open = False  # an answer is in the cache and not closed with <turn|>
        self.awaiting_tools: list[ToolCall] = []
        self.voice: VoiceBuffer | None = None
        self.voice_thinking = False  # the open voice turn's thinking setting (for its close)
        self.prepared_close: PreparedClose | None = None  # rows past `self.offset` in the caches
        self.prefill_seconds = 0.0
        self._voice_logits = None
        self.last_hidden = None  # post-norm hidden of the last prompt position (for the drafter)

    def restore_saved(self, saved: SavedSession) -> None:
        """Take over a conversation read from disk (`engine.session.persistence.load_session`)."""
        self.reset()
        self.cache, self.offset, self.segments = saved.cache, saved.offset, saved.segments
        self.messages, self.turns, self.answer_open = saved.messages, saved.turns, saved.answer_open
        self._hold_rollback_rows()

    def _system_messages(self) -> list[dict]:
        prompt = self.options.system_prompt
        return [{"role": "system", "content": prompt}] if prompt.strip() else []

    def token_ids(self) -> np.ndarray:
        """Every token fed to the cache so far, in order."""
        if not self.segments:
            return np.zeros((0,), np.int32)
        return np.concatenate([s.ids for s in self.segments]).astype(np.int32)

    @property
    def user_turns(self) -> int:
        return len(self.turns)

    # ------------------------------------------------------------------ turns

    def send(self, content, settings: ev.GenerationSettings,
             constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        """Add a user message (text, images, audio) and generate the answer."""
        if self.voice is not None:
            raise SessionError("a voice turn is open; end it before sending a message")
        constraint = self._constraint(settings, constraint)
        message = {"role": "user", "content": content}
        text, images, audios = self._new_turn_text(message, settings.enable_thinking)
        inputs = encode_prompt(text, self.tokenizer, images=images, audios=audios,
                               image_budget=self.options.image_budget)
        self._check_room(inputs.input_ids.shape[1], settings.max_tokens)
        self._begin_turn()
        self.messages.append(template_message(message))
        try:
            logits = yield from self._prefill(segment_of(inputs))
        except BaseException:
            self._undo_turn()
            raise
        yield from self._answer(logits, settings, constraint=constraint)

    def send_tool_results(self, results: list[dict], settings: ev.GenerationSettings,
                          constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        """Give the model the results of the tool calls it just made; it continues its turn."""
        if not self.awaiting_tools:
            raise SessionError("the model has not asked for any tool results")
        constraint = self._constraint(settings, constraint)
        responses = [{"name": r["name"], "response": r["response"]} for r in results]
        text = render_tool_results(responses, template=self.template,
                                   enable_thinking=settings.enable_thinking)
        inputs = encode_prompt(text, self.tokenizer)
        self._check_room(inputs.input_ids.shape[1], settings.max_tokens)
        before = self._mark()
        before.snapshot = kv_cache.snapshot(self.cache)
        calls, last = self.awaiting_tools, copy.deepcopy(self.messages[-1])
        self.messages[-1].setdefault("tool_responses", []).extend(responses)
        self.awaiting_tools = []
        try:
            logits = yield from self._prefill(segment_of(inputs))
        except BaseException:  # cancelled or failed: the model is still waiting for the results
            self._rewind_at_once(before)
            self.messages[-1], self.awaiting_tools = last, calls
            raise
        yield from self._answer(logits, settings, continuing=True, constraint=constraint)

    def regenerate(self, settings: ev.GenerationSettings,
                   constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        """Drop the last answer and generate it again from the same prompt."""
        self.drop_prepared_close()
        if not self.answer_marks:
            raise SessionError("there is no answer to regenerate")
        constraint = self._constraint(settings, constraint)
        mark = self.answer_marks[-1]
        yield from self._rewind(mark)
        self.answer_marks.pop()
        self.last_hidden = mark.last_hidden
        yield from self._answer(mark.last_logits, settings, constraint=constraint)

    def load_history(self, messages: list[dict], settings: ev.GenerationSettings,
                     answer: bool = False, constraint: TokenConstraint | None = None
                     ) -> Iterator[ev.Event]:
        """Replace the conversation with `messages`, fed without generating (see `engine.session.history`)."""
        if self.voice is not None:
            raise SessionError("a voice turn is open; end it first")
        plan = plan_history(messages, before=self._system_messages(), template=self.template, tools=self.options.tools,
                            enable_thinking=settings.enable_thinking, answer=answer)
        self.reset()
        total, logits = 0, None
        for i, piece in enumerate(plan.pieces):
            inputs = encode_prompt(piece.text, self.tokenizer, images=piece.images, audios=piece.audios,
                                   image_budget=self.options.image_budget)
            total += inputs.input_ids.shape[1]
            self._check_room(inputs.input_ids.shape[1], 0)
            if piece.message["role"] == "user":
                self._begin_turn()
            self.messages.append(piece.message)
            last = i == len(plan.pieces) - 1
            logits = yield from self._prefill(segment_of(inputs), want_logits=plan.continues and last)
        yield ev.Progress(stage="prefill", done=total, total=total)
        self.answer_open = False
        if plan.ask is not None:
            yield from self.send(plan.ask["content"], settings, constraint)
        elif plan.continues:
            yield from self._answer(logits, settings, continuing=True, constraint=constraint)

    def rollback(self, turn: int) -> Iterator[ev.Event]:
        """Return to the state just before user turn `turn` (0-based); later turns are dropped."""
        self.drop_prepared_close()
        if not 0 <= turn < len(self.turns):
            raise NotFound(f"there is no turn {turn} (the conversation has {len(self.turns)})")
        yield from self._rewind(self.turns[turn])
        del self.turns[turn:]
        self._hold_rollback_rows()

    # ------------------------------------------------------------------ voice

    def start_voice(self, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        if self.voice is not None:
            raise SessionError("a voice turn is already open")
        message = {"role": "user", "content": [{"type": "audio"}]}
        text, _, _ = self._new_turn_text(message, settings.enable_thinking)
        head = text[: text.index("<|audio|>")]
        ids = self._encode(head) + [self.boa_token_id]
        self._check_room(len(ids), settings.max_tokens)
        self._begin_turn()
        self.voice = VoiceBuffer()
        self.voice_thinking = settings.enable_thinking
        yield from self._feed_plain(ids)

    def append_audio(self, samples: np.ndarray) -> Iterator[ev.Event]:
        """Buffer samples and prefill the complete frames, `audio_chunk_frames` at a time."""
        if self.voice is None:
            raise SessionError("no voice turn is open: start one before sending audio")
        self.drop_prepared_close()
        self.voice.add(samples)
        started, offset = time.perf_counter(), self.offset
        yield from self._feed_voice(final=False)
        self.close_rate.record_batch(len(samples), self.offset - offset, time.perf_counter() - started)
        yield from self._close_ahead()

    def end_voice(self, text: str, settings: ev.GenerationSettings,
                  constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        if self.voice is None:
            raise SessionError("no voice turn is open")
        prepared, self.prepared_close = self.prepared_close, None
        if prepared is not None and prepared.fits(text, settings.enable_thinking):
            self._keep_close(prepared)
            yield from self._answer(prepared.logits, settings, constraint=constraint)
            return
        if prepared is not None:
            prepared.transaction.abort()
        try:
            yield from self._end_voice(text, settings)
        except BaseException:
            self.voice = None
            self._undo_turn()
            raise
        yield from self._answer(self._voice_logits, settings, constraint=constraint)

    def _end_voice(self, text: str, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        message, ids = self._closing(text, settings.enable_thinking)
        self._check_room(close_length(self.voice, len(ids), MAX_AUDIO_TOKENS), settings.max_tokens)
        yield from self._feed_voice(final=True)
        self.voice = None
        self.messages.append(message)
        self._voice_logits = yield from self._prefill(Segment(np.asarray(ids, np.int32)))

    def _closing(self, text: str, enable_thinking: bool) -> tuple[dict, list[int]]:
        """The open voice turn's user message and the ids that close it after its audio."""
        content = [{"type": "audio"} for _ in range(self.voice.clips)]
        if text.strip():
            content.append({"type": "text", "text": text})
        message = {"role": "user", "content": content}
        rendered, _, _ = self._new_turn_text(message, enable_thinking)
        tail = rendered[rendered.rindex("<|audio|>") + len("<|audio|>"):]
        return message, [self.eoa_token_id] + self._encode(tail)

    def _close_ahead(self) -> Iterator[ev.Event]:
        """Feed the close `end_voice("")` would feed now, in a transaction (`engine.session.close_ahead`)."""
        message, ids = self._closing("", self.voice_thinking)
        n = close_length(self.voice, len(ids), MAX_AUDIO_TOKENS)
        if n > self.options.retention.slack or not self.close_rate.pays_off(n):
            return  # a longer close could not always be trimmed away again
        try:
            self._check_room(n, 1)
        except ContextTooLong:
            return  # end_voice says so
        voice, offset, n_segments = self.voice, self.offset, len(self.segments)
        self.voice = copy.copy(voice)  # its arrays are replaced, never written
        transaction = CacheTransaction(self.cache)
        started = time.perf_counter()
        try:
            yield from self._feed_voice(final=True)
            logits = yield from self._prefill(Segment(np.asarray(ids, np.int32)))
        except BaseException:
            transaction.abort()
            raise
        finally:
            segments = self.segments[n_segments:]
            self.voice, self.offset = voice, offset
            del self.segments[n_segments:]
        self.close_rate.record_close(n, time.perf_counter() - started)
        self.prepared_close = PreparedClose(transaction, "", self.voice_thinking, segments, message,
                                            logits, self.last_hidden)

    def _keep_close(self, prepared: PreparedClose) -> None:
        """Make a close fed ahead part of the turn, as `_end_voice` would have fed it."""
        prepared.transaction.commit(prepared.tokens)
        self.segments.extend(prepared.segments)
        self.offset += prepared.tokens
        self.messages.append(prepared.message)
        self.voice = None
        self.last_hidden = prepared.last_hidden

    def drop_prepared_close(self) -> None:
        """Take the close fed ahead back out of the caches (before anything else uses them)."""
        prepared, self.prepared_close = self.prepared_close, None
        if prepared is not None:
            prepared.transaction.abort()

    def cancel_voice(self) -> None:
        self.drop_prepared_close()
        if self.voice is not None:
            self.voice = None
            self._undo_turn()

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

    # ------------------------------------------------------------------ marks

    def _mark(self) -> Mark:
        return Mark(self.offset, len(self.segments), len(self.messages), answer_open=self.answer_open)

    def _begin_turn(self) -> None:
        mark = self._mark()
        self.turns.append(mark)
        self.awaiting_tools = []
        self._snapshot(mark)
        self._hold_rollback_rows()

    def _undo_turn(self) -> None:
        """Take back a turn whose prefill did not finish."""
        self._rewind_at_once(self.turns.pop())
        self._hold_rollback_rows()

    def _snapshot(self, mark: Mark) -> None:
        # Position 0 needs none: the caches can always be trimmed back to it.
        mark.snapshot = (kv_cache.snapshot(self.cache)
                         if mark.offset > 0 and self.options.max_snapshots > 0 else None)
        drop_old_snapshots(self.turns + self.answer_marks, self.options.max_snapshots)

    def _hold_rollback_rows(self) -> None:
        """Ask the sliding caches to keep the rows that trimming back to the last turn needs (bounded)."""
        kv_cache.set_rollback_point(self.cache, self.turns[-1].offset if self.turns else None)

    def _rewind(self, mark: Mark) -> Iterator[ev.Event]:
        """Bring the session back to `mark`: cache, segments, messages, flags; later marks are dropped.

        The one place that decides how the cache gets there: trim when every cache still holds the rows
        the mark needs; else restore the newest snapshot at or before the mark (or start from position 0)
        and feed the segments after it again, without checking for cancel.
        """
        if kv_cache.can_trim_to(self.cache, mark.offset):
            kv_cache.trim_to(self.cache, mark.offset)
            del self.segments[mark.n_segments:]
        else:
            marks = self.turns + self.answer_marks + [mark]
            base = newest_snapshot_before(marks, mark)
            replay = self.segments[: mark.n_segments]
            point = kv_cache.nearest_trim_point(self.cache, mark.offset)  # e.g. the pinned last turn
            at_point = [m for m in marks if m.offset == point and m.n_messages <= mark.n_messages]
            if base is None or (at_point and base.offset <= point):
                point = point if at_point else 0
                start = at_point[0].n_segments if at_point else 0
                kv_cache.trim_to(self.cache, point)
            else:
                start = base.n_segments
                kv_cache.restore(self.cache, base.snapshot)
            self.segments = replay[:start]
            for seg in replay[start:]:
                yield from self._prefill(seg, want_logits=False, check_cancel=False)
        self.offset = mark.offset
        del self.messages[mark.n_messages:]
        self.turns = [m for m in self.turns if m.n_messages <= mark.n_messages]
        self.answer_marks = [m for m in self.answer_marks if m.n_messages <= mark.n_messages]
        self.answer_open = mark.answer_open
        self.awaiting_tools = []
        self.voice = None

    def _rewind_at_once(self, mark: Mark) -> None:
        for _ in self._rewind(mark):
            pass

    # ------------------------------------------------------------------ feeding

    def _new_turn_text(self, message: dict, enable_thinking: bool):
        images, audios = media_of(message["content"])
        msg = template_message(message)
        kwargs = dict(template=self.template, tools=self.options.tools,
                      enable_thinking=enable_thinking)
        after = render_chat(self.messages + [msg], add_generation_prompt=True, **kwargs)
        if not self.segments:
            return after, images, audios
        before = render_chat(self.messages, add_generation_prompt=False, **kwargs)
        if not after.startswith(before):
            raise SessionError("the chat template renders earlier turns differently; "
                               "start a new conversation")
        prefix = CLOSE_ANSWER if self.answer_open else ""
        return prefix + after[len(before):], images, audios

    def _encode(self, text: str) -> list[int]:
        return list(encode_prompt(text, self.tokenizer).input_ids[0])

    def _check_room(self, n_tokens: int, answer_budget: int) -> None:
        shortfall = memory_shortfall(self.model, self.cache, n_tokens, self.options.chunk_tokens)
        if shortfall:  # it would not fit in memory (engine.admission)
            raise ContextTooLong(shortfall)
        need = self.offset + n_tokens + min(answer_budget, 1)
        if need > self.context_length:
            raise ContextTooLong(
                f"the conversation is too long for the model's context: this turn needs "
                f"{self.offset + n_tokens} of {self.context_length} tokens. Start a new "
                "conversation, or edit an earlier message to go back.")

    def _feed_plain(self, ids: list[int]) -> Iterator[ev.Event]:
        yield from self._prefill(Segment(np.asarray(ids, np.int32)), want_logits=False)

    def _prefill(self, seg: Segment, want_logits: bool = True, check_cancel: bool = True
                 ) -> Iterator[ev.Event]:
        """Feed one segment in chunks; returns the logits of its last position (or None)."""
        n = len(seg)
        media = seg.media()
        ids = mx.array(seg.ids[None])
        embeds = None
        if any(v is not None for v in media.values()):
            embeds = self.model.embed_inputs(
                ids, **{k: (None if v is None else mx.array(v)) for k, v in media.items()})
        step = max(1, self.options.chunk_tokens)
        start, logits = 0, None
        started = time.perf_counter()
        while start < n:
            if check_cancel and self.cancel.is_set():
                raise Cancelled()
            end = image_runs_end(seg.ids, start, min(start + step, n), self.image_token_id)
            hidden = self.model.hidden_states(
                ids[:, start:end], self.cache, None if embeds is None else embeds[:, start:end])
            hidden = hidden[:, -1:]
            out = self.model.logits(hidden)
            mx.eval([out, hidden] + [c.state for c in self.cache])
            if end == n and want_logits:
                logits = out
                self.last_hidden = hidden if self.drafter is not None else None
            start = end
            if n > step:
                yield ev.Progress(stage="prefill", done=start, total=n)
        self.offset += n
        self.segments.append(seg)
        self.prefill_seconds = time.perf_counter() - started
        return logits

    # ------------------------------------------------------------------ answering

    def _constraint(self, settings: ev.GenerationSettings, given: TokenConstraint | None = None
                    ) -> TokenConstraint | None:
        """`given`, else the constraint `settings.constraint` asks for (built before the turn changes
        anything, so a spec that cannot be enforced is refused with nothing changed)."""
        if given is not None or settings.constraint is None:
            return given
        from engine.decode.grammar import ConstraintError, build_constraint

        try:
            return build_constraint(settings.constraint, self.tokenizer,
                                    self.model.config.text_config.vocab_size,
                                    settings.enable_thinking)
        except ConstraintError as e:
            raise SessionError(str(e)) from e

    def _answer(self, logits, settings: ev.GenerationSettings, continuing: bool = False,
                constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        constraint = self._constraint(settings, constraint)
        hidden = hidden_token_ids(self.tokenizer)
        if not continuing:
            mark = replace(self._mark(), last_logits=logits, last_hidden=self.last_hidden)
            self.answer_marks.append(mark)
            self._snapshot(mark)
            self.messages.append({"role": "assistant", "content": ""})
        prompt_tokens = self.offset
        self.answer_open = True
        stats = DecodeStats()
        parser = OutputParser()
        detok = self.tokenizer.detokenizer
        detok.reset()
        answer, calls, fed = [], [], []
        reason = "length"
        budget = min(settings.max_tokens, self.context_length - self.offset)
        run = replace(settings, max_tokens=max(budget, 1))
        try:
            for step in self._steps(logits, run, stats, constraint):
                if step.stop:
                    reason = "tool_calls" if step.token == self.tool_response_id else "stop"
                    break
                fed.append(step.token)
                if step.token not in hidden:  # control tokens never become answer text
                    detok.add_token(step.token)
                yield from self._parsed(parser.feed(detok.last_segment), answer, calls)
                if self.cancel.is_set():
                    reason = "cancelled"
                    break
            detok.finalize()
            yield from self._parsed(parser.feed(detok.last_segment) + parser.finish(), answer, calls)
        finally:
            self.offset += len(fed)
            if fed:
                self.segments.append(Segment(np.asarray(fed, np.int32)))
            msg = self.messages[-1]
            msg["content"] = (msg.get("content") or "") + "".join(answer)
            if calls:
                msg.setdefault("tool_calls", []).extend(
                    {"function": {"name": c.name, "arguments": c.arguments}} for c in calls)
        if reason == "tool_calls" and calls:
            self.awaiting_tools = calls  # the model continues this turn after the results
        elif reason == "tool_calls":
            reason = "stop"
        if self.offset >= self.context_length and reason == "length":
            yield ev.ContextWarning(used=self.offset, limit=self.context_length,
                                    message="the answer stopped at the end of the context")
        elif self.offset > WARN_FRACTION * self.context_length:
            yield ev.ContextWarning(used=self.offset, limit=self.context_length,
                                    message=f"{self.offset} of {self.context_length} context "
                                            "tokens used; start a new conversation soon")
        yield ev.TurnStats(
            prompt_tokens=prompt_tokens, prefill_seconds=self.prefill_seconds,
            generated_tokens=stats.generated, decode_tokens_per_second=stats.tokens_per_second(),
            time_to_first_token=(stats.first_token_at or stats.started) - stats.started,
            context_used=self.offset, context_length=self.context_length,
            drafted=stats.drafted, accepted=stats.accepted, target_forwards=stats.target_forwards,
            memory_bytes=int(mx.get_active_memory()))
        yield ev.TurnFinished(reason=reason, text="".join(answer))

    def _steps(self, logits, settings: ev.GenerationSettings, stats: DecodeStats,
               constraint: TokenConstraint | None = None):
        """The decoder's steps: speculative with the drafter where it pays off, else plain."""
        wanted = drafter_pays_off() if settings.use_drafter is None else settings.use_drafter
        # A constraint decodes plainly: the drafter's proposals would have to follow the constraint too.
        if self.drafter is not None and wanted and constraint is None:
            return generate_speculative(
                self.model, MTPDraftSource(self.model, self.drafter), self.cache, logits,
                settings=settings, config=self.gen_config, stats=stats, hidden_last=self.last_hidden)
        return generate_tokens(self.model, self.cache, logits, settings=settings,
                               config=self.gen_config, stats=stats, constraint=constraint)

    def _parsed(self, items, answer: list, calls: list) -> Iterator[ev.Event]:
        for item in items:
            if isinstance(item, ToolCall):
                calls.append(item)
                yield ev.ToolCallEvent(name=item.name, arguments=item.arguments)
            elif isinstance(item, Thinking):
                yield ev.TextDelta(text=item.text, channel="thinking")
            elif isinstance(item, Text):
                answer.append(item.text)
                yield ev.TextDelta(text=item.text, channel="answer")
            elif isinstance(item, ParseError):
                yield ev.ParseErrorEvent(raw=item.raw, message=item.message)


__all__ = ["Session", "SessionOptions"]
