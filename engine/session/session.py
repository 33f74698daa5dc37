"""A live conversation: one KV cache that lives from turn to turn.

Contract:
- Each public method that does model work is a generator of `engine.protocol` events (without ids; the
  engine thread gives them theirs). It checks `self.cancel` between prefill chunks and between tokens.
- A user turn feeds only the new tokens. The answer stays in the cache; the next turn continues there.
  The cache is the truth: "turn N" equals a fresh prefill of `self.token_ids()`, the tokens fed so far.
- New text comes from the chat template: the conversation rendered with and without the new message;
  the difference is fed after closing the previous answer with `<turn|>\\n` (the Gemma 4 format).
- All or nothing: every command runs in one transaction (`_command`, `engine.session.transaction`). On a
  failure, or a cancel before the command is accepted, the session is put back exactly as it was (cache
  contents and offset, segments, messages, marks, flags, the open voice turn). An answering command is
  accepted (event `Accepted`) once its prompt is in, Regenerate once its new answer's first token is out;
  after that a cancel keeps the partial answer (reason "cancelled") and only a failure takes it all back.
- Rollback and regenerate come back to a mark (`engine.session.marks`) through `_rebuild_cache`, the one
  place that decides how: trim the caches when they still hold the rows, else restore a snapshot and feed
  the tokens after it again. Regenerate keeps no logits: it goes back one position and feeds the prompt's
  last token again (`_reopen_answer`). An image block (or one video frame) is never split across prefill chunks.
- Context policy: a turn whose prompt does not fit (with room for at least one answer token) is
  refused with a clear error and nothing changes; past 80% of the context a warning is sent; decoding
  stops at the limit with reason "length" and a warning. Nothing is ever truncated silently.
- Voice turns (`engine.session.voice`): `start_voice`, `append_audio` (complete 640-sample frames are
  prefilled in small batches while recording goes on; clips longer than the model's 30 s budget continue as
  a new clip in the same turn), `end_voice` (the partial frame is zero-padded, the closing tokens are fed)
  and the answer. Where the device keeps up, the close is fed ahead after each audio batch; at a pause
  `prepare_answer` also decodes the answer's first tokens (`engine.session.close_ahead`); `end_voice` keeps
  what fits, every other command takes it back first.
- The model never writes input-only tokens (media placeholders, turn openers...): they are suppressed in
  plain and speculative decoding (`engine.decode.generation.input_only_tokens`).
- Answers are decoded by `engine.session.answering`. The answering methods take an optional
  `TokenConstraint` (constrained decoding), which decodes plainly; without one, `settings.constraint`
  (plain data, `engine.decode.grammar`) builds one.
- Special tokens other than the output parser's (`engine.inputs.special_tokens`) stay in the cache but
  never become answer text.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Protocol

import mlx.core as mx
import numpy as np

from engine import protocol as ev
from engine.admission import memory_shortfall
from engine.decode import cache as kv_cache
from engine.decode.cache import Retention
from engine.decode.generation import GenerationConfig, input_only_tokens
from engine.decode.sampling import TokenConstraint
from engine.inputs.output_parser import TOOL_RESPONSE
from engine.inputs.prompt import encode_prompt
from engine.inputs.template import render_chat, render_tool_results
from engine.inputs.types import ToolCall
from engine.inputs.video import with_soundtracks
from engine.session.answering import Answering
from engine.session.errors import Cancelled, ContextTooLong, NotFound, SessionError
from engine.session.history import plan_history
from engine.session.marks import Mark, drop_old_snapshots, newest_snapshot_before
from engine.session.messages import media_of, template_message
from engine.session.persistence import SavedSession
from engine.session.segments import Segment, segment_of, vision_runs_end
from engine.session.close_ahead import CloseAheadRate, PreparedClose
from engine.session.transaction import SavedState
from engine.session.voice import VoiceTurns
from engine.session.voice_buffer import VoiceBuffer

CLOSE_ANSWER = "<turn|>\n"


class CancelFlag(Protocol):
    """Set when the running command should stop (a `threading.Event`, or the engine's per-command flag)."""

    def is_set(self) -> bool: ...


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
    close_ahead: bool | None = None  # feed a voice turn's close after each batch (None: where it keeps up)
    answer_ahead_tokens: int = 32  # the most answer tokens `prepare_answer` decodes at a pause


class Session(VoiceTurns, Answering):
    def __init__(self, model, tokenizer, template: str, gen_config: GenerationConfig,
                 options: SessionOptions | None = None, drafter=None,
                 cancel: CancelFlag | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.gen_config = gen_config
        self.options = options or SessionOptions()
        self.drafter = drafter
        self.cancel = cancel if cancel is not None else threading.Event()
        cfg = model.config
        self.image_token_id = cfg.image_token_id
        self.video_token_id = cfg.video_token_id
        self.audio_token_id = cfg.audio_token_id
        self.boa_token_id = cfg.boa_token_id
        self.eoa_token_id = cfg.eoa_token_index
        self.placeholder_ids = (cfg.image_token_id, cfg.video_token_id, cfg.audio_token_id)
        self.input_only = input_only_tokens(cfg, tokenizer)
        # The model stops at <|tool_response> to wait for tool results.
        self.tool_response_id = tokenizer.convert_tokens_to_ids(TOOL_RESPONSE)
        limit = cfg.text_config.max_position_embeddings
        self.context_length = min(limit, self.options.context_length or limit)
        self._accepted = True  # within a command: whether a cancel now keeps what was done
        self._low_water = 0  # within a command: the lowest offset the cache went back to
        self._command_start: int | None = None  # within a command: the offset it started at
        self.close_rate = CloseAheadRate(self.options.close_ahead)  # this device's prefill rate
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        self.cache = self.model.make_cache(self.options.retention, kv_bits=self.options.kv_bits)
        self.segments: list[Segment] = []
        self.offset = 0
        self.messages: list[dict] = self._system_messages()
        self.turns: list[Mark] = []  # one per user turn, taken before its tokens
        self.answer_marks: list[Mark] = []  # one per user turn, taken right after its prompt
        self.answer_open = False  # an answer is in the cache and not closed with <turn|>
        self.awaiting_tools: list[ToolCall] = []
        self.voice: VoiceBuffer | None = None
        self.voice_thinking = False  # the open voice turn's thinking setting (for a close fed ahead)
        self.closing_ids: dict[tuple, list[int]] = {}  # the open voice turn's closes, rendered once each
        self.prepared_close: PreparedClose | None = None  # fed ahead: rows past `self.offset` in the caches
        self.prefill_seconds = 0.0
        self.last_hidden = None  # post-norm hidden of the last prompt position (for the drafter)

    def restore_saved(self, saved: SavedSession) -> None:
        """Take over a conversation read from disk (`engine.session.persistence.load_session`)."""
        self.reset()
        self.cache, self.offset, self.segments = saved.cache, saved.offset, saved.segments
        self.messages, self.turns, self.answer_open = saved.messages, saved.turns, saved.answer_open
        self.answer_marks = saved.answer_marks
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

    # ------------------------------------------------------------------ commands

    def send(self, content, settings: ev.GenerationSettings,
             constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        """Add a user message (text, images, audio, video) and generate the answer."""
        return self._command(self._send(content, settings, constraint))

    def send_tool_results(self, results: list[dict], settings: ev.GenerationSettings,
                          constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        """Give the model the results of the tool calls it just made; it continues its turn."""
        return self._command(self._send_tool_results(results, settings, constraint))

    def regenerate(self, settings: ev.GenerationSettings,
                   constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        """Drop the last answer and generate it again from the same prompt."""
        return self._command(self._regenerate(settings, constraint))

    def load_history(self, messages: list[dict], settings: ev.GenerationSettings,
                     answer: bool = False, constraint: TokenConstraint | None = None
                     ) -> Iterator[ev.Event]:
        """Replace the conversation with `messages`, fed without generating (see `engine.session.history`).

        The new conversation is built beside the old one, which comes back if anything fails or is
        cancelled: while it loads, both caches are in memory.
        """
        return self._command(self._load_history(messages, settings, answer, constraint))

    def rollback(self, turn: int) -> Iterator[ev.Event]:
        """Return to the state just before user turn `turn` (0-based); later turns are dropped."""
        return self._command(self._rollback(turn))

    def start_voice(self, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        return self._command(self._start_voice(settings))

    def append_audio(self, samples: np.ndarray) -> Iterator[ev.Event]:
        """Buffer samples and prefill the complete frames, `audio_chunk_frames` at a time."""
        return self._command(self._append_audio(samples), keeps_ahead=True)

    def prepare_answer(self, settings: ev.GenerationSettings,
                       another_waits: Callable[[], bool] = lambda: False,
                       within_s: float | None = None) -> Iterator[ev.Event]:
        """At a pause in the open voice turn: feed its close and decode the answer's first tokens ahead,
        until `another_waits()`; `end_voice` with the same settings starts with them. With `within_s` (the
        silence left before the turn would end), a close not yet fed is fed only where it takes less."""
        return self._command(self._prepare_answer(settings, another_waits, within_s), keeps_ahead=True)

    def end_voice(self, text: str, settings: ev.GenerationSettings,
                  constraint: TokenConstraint | None = None) -> Iterator[ev.Event]:
        return self._command(self._end_voice(text, settings, constraint), keeps_ahead=True)

    def cancel_voice(self) -> None:
        """Forget the open voice turn: back to the state before it started."""
        if self.voice is not None:
            for _ in self._command(self._rollback(len(self.turns) - 1)):
                pass

    def _command(self, body: Iterator[ev.Event], keeps_ahead: bool = False) -> Iterator[ev.Event]:
        """Run one command's generator as a transaction (module docstring: all or nothing). What a voice
        turn fed ahead is taken back first, unless the command itself decides (`keeps_ahead`)."""
        if not keeps_ahead:
            self.drop_prepared_close()
        saved = SavedState.of(self)
        self._accepted, self._low_water, self._command_start = False, self.offset, self.offset
        self._hold_rollback_rows()
        try:
            yield from body
        except BaseException:
            self._put_back(saved)
            raise
        finally:
            self._accepted, self._command_start = True, None
            self._hold_rollback_rows()

    def _accept(self) -> Iterator[ev.Event]:
        """From here on a cancel keeps what the command did (the partial answer)."""
        if not self._accepted:
            self._accepted = True
            yield ev.Accepted()

    def _put_back(self, saved: SavedState) -> None:
        """The session as `saved` recorded it; the cache is rebuilt from what both states share."""
        swapped = self.cache is not saved.cache
        shared = min(self._low_water, saved.offset)
        saved.put_back(self)
        self.prepared_close = None  # its rows go with the rebuild below
        if not swapped:  # a command that swapped caches never touched the recorded one
            for _ in self._rebuild_cache(shared, replay_to=saved.offset):
                pass

    # ------------------------------------------------------------------ turns

    def _send(self, content, settings: ev.GenerationSettings,
              constraint: TokenConstraint | None) -> Iterator[ev.Event]:
        if self.voice is not None:
            raise SessionError("a voice turn is open; end it before sending a message")
        constraint = self._constraint(settings, constraint)
        message = {"role": "user", "content": with_soundtracks(content)}
        text, media = self._new_turn_text(message, settings.enable_thinking)
        inputs = encode_prompt(text, self.tokenizer, image_budget=self.options.image_budget, **media)
        self._check_room(inputs.input_ids.shape[1], settings.max_tokens)
        self._begin_turn()
        self.messages.append(template_message(message))
        logits = yield from self._prefill(segment_of(inputs))
        yield from self._accept()
        yield from self._answer(logits, settings, constraint=constraint)

    def _send_tool_results(self, results: list[dict], settings: ev.GenerationSettings,
                           constraint: TokenConstraint | None) -> Iterator[ev.Event]:
        if not self.awaiting_tools:
            raise SessionError("the model has not asked for any tool results")
        constraint = self._constraint(settings, constraint)
        responses = [{"name": r["name"], "response": r["response"]} for r in results]
        text = render_tool_results(responses, template=self.template,
                                   enable_thinking=settings.enable_thinking)
        inputs = encode_prompt(text, self.tokenizer)
        self._check_room(inputs.input_ids.shape[1], settings.max_tokens)
        self.messages[-1].setdefault("tool_responses", []).extend(responses)
        self.awaiting_tools = []
        logits = yield from self._prefill(segment_of(inputs))
        yield from self._accept()
        yield from self._answer(logits, settings, continuing=True, constraint=constraint)

    def _regenerate(self, settings: ev.GenerationSettings,
                    constraint: TokenConstraint | None) -> Iterator[ev.Event]:
        if self.voice is not None:
            raise SessionError("a voice turn is open; end it first")
        last_turn = self.turns[-1].n_messages if self.turns else -1
        if not self.answer_marks or self.answer_marks[-1].n_messages < last_turn:
            raise SessionError("there is no answer to regenerate")
        constraint = self._constraint(settings, constraint)
        logits = yield from self._reopen_answer(self.answer_marks[-1], settings)
        # Accepted only with the new answer's first token: a cancel before it brings the old answer back.
        yield from self._answer(logits, settings, constraint=constraint)

    def _reopen_answer(self, mark: Mark, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        """Go back to answer mark `mark` (dropped with what follows it); returns the prompt's last logits."""
        if mark.prompt_fed:
            # One position back, then the prompt's last token again: its logits and hidden state, no copies kept.
            last = int(self.segments[mark.n_segments - 1].ids[-1])
            yield from self._rebuild_cache(mark.offset - 1)
            self._cut_to(mark)
            self.answer_marks.pop()
            return self._forward_token(last)
        yield from self._rebuild_cache(mark.offset)
        self._cut_to(mark)
        self.answer_marks.pop()
        kwargs = dict(template=self.template, tools=self.options.tools,
                      enable_thinking=settings.enable_thinking)
        before = render_chat(self.messages, add_generation_prompt=False, **kwargs)
        after = render_chat(self.messages, add_generation_prompt=True, **kwargs)
        if not after.startswith(before):
            raise SessionError("the chat template renders this conversation differently; "
                               "start a new conversation")
        logits = yield from self._prefill(Segment(np.asarray(self._encode(after[len(before):]), np.int32)))
        return logits

    def _load_history(self, messages: list[dict], settings: ev.GenerationSettings, answer: bool,
                      constraint: TokenConstraint | None) -> Iterator[ev.Event]:
        if self.voice is not None:
            raise SessionError("a voice turn is open; end it first")
        # Videos are read (and their sound placed after them) before anything changes.
        messages = [{**m, "content": with_soundtracks(m["content"])}
                    if m.get("role") == "user" and isinstance(m.get("content"), list) else m
                    for m in messages]
        plan = plan_history(messages, before=self._system_messages(), template=self.template,
                            tools=self.options.tools, enable_thinking=settings.enable_thinking,
                            answer=answer)
        self.reset()  # a new cache: the old one stays with the transaction until the load succeeds
        self._command_start = None  # nothing to keep for going back: a failure puts the old cache back
        total, logits = 0, None
        for i, piece in enumerate(plan.pieces):
            inputs = encode_prompt(piece.text, self.tokenizer, images=piece.images, audios=piece.audios,
                                   videos=piece.videos, image_budget=self.options.image_budget)
            total += inputs.input_ids.shape[1]
            self._check_room(inputs.input_ids.shape[1], 0)
            role = piece.message["role"]
            if role == "user":
                self._begin_turn()
            elif role == "assistant" and self.messages and self.messages[-1]["role"] == "user":
                self._mark_answer(prompt_fed=False)  # before the rendered "<|turn>model\n"
            self.messages.append(piece.message)
            last = i == len(plan.pieces) - 1
            logits = yield from self._prefill(segment_of(inputs), want_logits=plan.continues and last)
        yield ev.Progress(stage="prefill", done=total, total=total)
        self.answer_open = False
        if plan.ask is not None:
            yield from self._send(plan.ask["content"], settings, constraint)
        elif plan.continues:
            yield from self._accept()
            yield from self._answer(logits, settings, continuing=True, constraint=constraint)

    def _rollback(self, turn: int) -> Iterator[ev.Event]:
        if not 0 <= turn < len(self.turns):
            raise NotFound(f"there is no turn {turn} (the conversation has {len(self.turns)})")
        mark = self.turns[turn]
        yield from self._rebuild_cache(mark.offset)
        self._cut_to(mark)
        del self.turns[turn:]

    # ------------------------------------------------------------------ marks

    def _mark(self) -> Mark:
        return Mark(self.offset, len(self.segments), len(self.messages), answer_open=self.answer_open)

    def _begin_turn(self) -> None:
        mark = self._mark()
        self.turns.append(mark)
        self.awaiting_tools = []
        self._snapshot(mark)
        self._hold_rollback_rows()

    def _mark_answer(self, prompt_fed: bool = True) -> None:
        mark = replace(self._mark(), prompt_fed=prompt_fed)
        self.answer_marks.append(mark)
        self._snapshot(mark)

    def _snapshot(self, mark: Mark) -> None:
        # Position 0 needs none: the caches can always be trimmed back to it.
        mark.snapshot = (kv_cache.snapshot(self.cache)
                         if mark.offset > 0 and self.options.max_snapshots > 0 else None)
        drop_old_snapshots(self.turns + self.answer_marks, self.options.max_snapshots)

    def _hold_rollback_rows(self) -> None:
        """Ask the sliding caches to keep the rows that trimming back to the last turn needs, and within a
        command to where it started (so that taking it back is a trim); the caches bound what they keep."""
        last_turn = self.turns[-1].offset if self.turns else None
        points = [p for p in (last_turn, self._command_start) if p is not None]
        kv_cache.set_rollback_point(self.cache, min(points) if points else None)

    def _cut_to(self, mark: Mark) -> None:
        """Segments, messages, marks and flags as they were at `mark` (the cache is the caller's business)."""
        del self.segments[mark.n_segments:]
        self.offset = mark.offset
        del self.messages[mark.n_messages:]
        self.turns = [m for m in self.turns if m.n_messages <= mark.n_messages]
        self.answer_marks = [m for m in self.answer_marks if m.n_messages <= mark.n_messages]
        self.answer_open = mark.answer_open
        self.awaiting_tools = []
        self.voice = None

    def _rebuild_cache(self, offset: int, replay_to: int | None = None) -> Iterator[ev.Event]:
        """Make the caches hold the first `offset` tokens of `self.segments` (then feed on to `replay_to`).

        The one place that decides how to go back: trim when every cache still holds the rows, else start at
        the later of the nearest point the caches can trim to (a pinned rollback point, else 0) and the newest
        snapshot of `self.turns + self.answer_marks` at or before `offset`, and feed the tokens after it again, without checking for cancel. The tokens before `offset` must
        be what the caches hold now.
        """
        self._low_water = min(self._low_water, offset)
        if kv_cache.can_trim_to(self.cache, offset):
            kv_cache.trim_to(self.cache, offset)
            start = offset
        else:
            base = newest_snapshot_before(self.turns + self.answer_marks, offset)
            point = kv_cache.nearest_trim_point(self.cache, offset)  # e.g. the pinned last turn
            if base is None or base.offset <= point:
                kv_cache.trim_to(self.cache, point)
                start = point
            else:
                kv_cache.restore(self.cache, base.snapshot)
                start = base.offset
        yield from self._replay(start, offset if replay_to is None else replay_to)

    def _replay(self, start: int, end: int) -> Iterator[ev.Event]:
        """Feed tokens [start, end) of `self.segments` again (no bookkeeping, no cancel)."""
        pos = 0
        for seg in self.segments:
            a, b = max(start - pos, 0), min(end - pos, len(seg))
            if a < b:
                yield from self._feed(seg.part(a, b, self.placeholder_ids), want_logits=False,
                                      check_cancel=False)
            pos += len(seg)
            if pos >= end:
                return

    # ------------------------------------------------------------------ feeding

    def _new_turn_text(self, message: dict, enable_thinking: bool):
        media = media_of(message["content"])
        msg = template_message(message)
        kwargs = dict(template=self.template, tools=self.options.tools,
                      enable_thinking=enable_thinking)
        after = render_chat(self.messages + [msg], add_generation_prompt=True, **kwargs)
        if not self.segments:
            return after, media
        before = render_chat(self.messages, add_generation_prompt=False, **kwargs)
        if not after.startswith(before):
            raise SessionError("the chat template renders earlier turns differently; "
                               "start a new conversation")
        prefix = CLOSE_ANSWER if self.answer_open else ""
        return prefix + after[len(before):], media

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
        """Feed one segment and record it; returns the logits of its last position (or None)."""
        logits = yield from self._feed(seg, want_logits, check_cancel)
        self.offset += len(seg)
        self.segments.append(seg)
        return logits

    def _feed(self, seg: Segment, want_logits: bool, check_cancel: bool) -> Iterator[ev.Event]:
        """Feed one segment's tokens in chunks (an image block stays in one chunk); records nothing."""
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
            end = vision_runs_end(seg.ids, start, min(start + step, n),
                                  (self.image_token_id, self.video_token_id))
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
        self.prefill_seconds = time.perf_counter() - started
        return logits

    def _forward_token(self, token: int) -> mx.array:
        """Feed one token the cache already counts in `self.offset` again; its logits (and hidden state)."""
        hidden = self.model.hidden_states(mx.array([[token]]), self.cache)
        logits = self.model.logits(hidden)
        mx.eval([logits, hidden] + [c.state for c in self.cache])
        self.last_hidden = hidden if self.drafter is not None else None
        return logits


__all__ = ["CancelFlag", "Session", "SessionOptions"]
