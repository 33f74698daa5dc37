"""A live conversation: one KV cache that lives from turn to turn.

Contract:
- Each public method that does model work is a generator of `engine.protocol` objects (without ids; the
  engine thread stamps them). It checks `self.cancel` between prefill chunks and between tokens.
- A user turn feeds only the new tokens. The answer stays in the cache; the next turn continues there.
  The cache is the truth: "turn N" equals a fresh prefill of `self.token_ids()`, the tokens fed so far.
- New text comes from the chat template: the conversation rendered with and without the new message;
  the difference is fed after closing the previous answer with `<turn|>\\n` (the Gemma 4 format).
- Rollback and regenerate restore the cache at a mark (see `session_state`), never re-prefilling the
  whole conversation when a snapshot is at hand. Cancel in prefill undoes the turn; cancel in decode
  keeps the partial answer. An image block (or one video frame) is never split across prefill chunks.
- Context policy: a turn whose prompt does not fit (with room for at least one answer token) is
  refused with a clear error and nothing changes; past 80% of the context a warning is sent; decoding
  stops at the limit with reason "length" and a warning. Nothing is ever truncated silently.
- Voice turns: `start_voice`, `append_audio` (complete 640-sample frames are prefilled in small batches
  while recording goes on; clips longer than the model's 30 s budget continue as a new clip in the same
  turn), `end_voice` (the partial frame is zero-padded, the closing tokens are fed) and the answer.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import mlx.core as mx
import numpy as np

from engine import protocol as ev
from engine.decode.generation import DecodeStats, GenerationConfig, drafter_pays_off, generate_tokens
from engine.inputs.audio import MAX_AUDIO_TOKENS
from engine.inputs.output_parser import OutputParser, ParseError, Text, Thinking
from engine.inputs.prompt import encode_prompt
from engine.inputs.template import render_chat, render_tool_results
from engine.inputs.types import ToolCall
from engine.inputs.video import with_soundtracks
from engine.session.marks import (
    Mark,
    Segment,
    empty_snapshot,
    restore_caches,
    snapshot_caches,
    vision_runs_end,
)
from engine.session.voice_buffer import VoiceBuffer

CLOSE_ANSWER = "<turn|>\n"
WARN_FRACTION = 0.8


class SessionError(Exception):
    """A request the session cannot carry out; the message says why, and nothing changed."""


class Cancelled(Exception):
    pass


@dataclass
class SessionOptions:
    system_prompt: str = ""
    tools: list[dict] | None = None
    image_budget: int = 280
    context_length: int | None = None
    chunk_tokens: int = 256
    audio_chunk_frames: int = 25  # 1 s of audio per prefill step while recording
    max_snapshots: int = 8


class Session:
    def __init__(self, model, tokenizer, template: str, gen_config: GenerationConfig,
                 options: SessionOptions | None = None, drafter=None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.gen_config = gen_config
        self.options = options or SessionOptions()
        self.drafter = drafter
        cfg = model.config
        self.image_token_id = cfg.image_token_id
        self.video_token_id = cfg.video_token_id
        self.audio_token_id = cfg.audio_token_id
        self.boa_token_id = cfg.boa_token_id
        self.eoa_token_id = cfg.eoa_token_index
        limit = cfg.text_config.max_position_embeddings
        self.context_length = min(limit, self.options.context_length or limit)
        self.cancel = threading.Event()
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        self.cache = self.model.make_cache()
        self.segments: list[Segment] = []
        self.offset = 0
        self.messages: list[dict] = []
        if self.options.system_prompt.strip():
            self.messages.append({"role": "system", "content": self.options.system_prompt})
        self.turns: list[Mark] = []  # one per user turn, taken before its tokens
        self.answer_marks: list[Mark] = []  # one per user turn, taken right after its prefill
        self.answer_open = False  # an answer is in the cache and not closed with <turn|>
        self.awaiting_tools: list[ToolCall] = []
        self.voice: VoiceBuffer | None = None
        self.prefill_seconds = 0.0
        self._voice_logits = None
        self.last_hidden = None  # post-norm hidden of the last prompt position (for the drafter)

    def token_ids(self) -> np.ndarray:
        """Every token fed to the cache so far, in order."""
        if not self.segments:
            return np.zeros((0,), np.int32)
        return np.concatenate([s.ids for s in self.segments]).astype(np.int32)

    @property
    def user_turns(self) -> int:
        return len(self.turns)

    # ------------------------------------------------------------------ turns

    def send(self, content, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        """Add a user message (text, images, audio, video) and generate the answer."""
        if self.voice is not None:
            raise SessionError("a voice turn is open; end it before sending a message")
        message = {"role": "user", "content": with_soundtracks(content)}
        text, media = self._new_turn_text(message, settings.enable_thinking)
        inputs = encode_prompt(text, self.tokenizer, image_budget=self.options.image_budget, **media)
        self._check_room(inputs.input_ids.shape[1], settings.max_tokens)
        self._begin_turn()
        self.messages.append(_template_message(message))
        try:
            logits = yield from self._prefill(_segment_of(inputs))
        except BaseException:
            self._undo_turn()
            raise
        yield from self._answer(logits, settings)

    def send_tool_results(self, results: list[dict], settings: ev.GenerationSettings
                          ) -> Iterator[ev.Event]:
        """Give the model the results of the tool calls it just made; it continues its turn."""
        if not self.awaiting_tools:
            raise SessionError("the model has not asked for any tool results")
        responses = [{"name": r["name"], "response": r["response"]} for r in results]
        text = render_tool_results(responses, template=self.template,
                                   enable_thinking=settings.enable_thinking)
        inputs = encode_prompt(text, self.tokenizer)
        self._check_room(inputs.input_ids.shape[1], settings.max_tokens)
        before = Mark(self.offset, len(self.segments), len(self.messages),
                      meta={"answer_open": self.answer_open})
        before.snapshot = snapshot_caches(self.cache)
        calls, last = self.awaiting_tools, copy.deepcopy(self.messages[-1])
        self.messages[-1].setdefault("tool_responses", []).extend(responses)
        self.awaiting_tools = []
        try:
            logits = yield from self._prefill(_segment_of(inputs))
        except BaseException:  # cancelled or failed: the model is still waiting for the results
            self._restore(before)
            self.messages[-1], self.awaiting_tools = last, calls
            raise
        yield from self._answer(logits, settings, continuing=True)

    def regenerate(self, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        """Drop the last answer and generate it again from the same prompt."""
        if not self.answer_marks:
            raise SessionError("there is no answer to regenerate")
        mark = self.answer_marks.pop()
        self._restore(mark)
        self.last_hidden = mark.meta.get("last_hidden")
        yield from self._answer(mark.last_logits, settings)

    def load_history(self, messages: list[dict], settings: ev.GenerationSettings,
                     answer: bool = False) -> Iterator[ev.Event]:
        """Replace the conversation with `messages`, fed without generating (see session_history)."""
        from engine.session.history import load_history

        return load_history(self, messages, settings, answer)

    def rollback(self, turn: int) -> Iterator[ev.Event]:
        """Return to the state just before user turn `turn` (0-based); later turns are dropped."""
        if not 0 <= turn < len(self.turns):
            raise SessionError(f"there is no turn {turn} (the conversation has {len(self.turns)})")
        yield from self._restore_turn(turn)

    # ------------------------------------------------------------------ voice

    def start_voice(self, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        if self.voice is not None:
            raise SessionError("a voice turn is already open")
        message = {"role": "user", "content": [{"type": "audio"}]}
        text, _ = self._new_turn_text(message, settings.enable_thinking)
        head = text[: text.index("<|audio|>")]
        ids = self._encode(head) + [self.boa_token_id]
        self._check_room(len(ids), settings.max_tokens)
        self._begin_turn()
        self.voice = VoiceBuffer()
        yield from self._feed_plain(ids)

    def append_audio(self, samples: np.ndarray) -> Iterator[ev.Event]:
        """Buffer samples and prefill the complete frames, `audio_chunk_frames` at a time."""
        if self.voice is None:
            raise SessionError("no voice turn is open: start one before sending audio")
        self.voice.add(samples)
        yield from self._feed_voice(final=False)

    def end_voice(self, text: str, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        if self.voice is None:
            raise SessionError("no voice turn is open")
        try:
            yield from self._end_voice(text, settings)
        except BaseException:
            self.voice = None
            self._undo_turn()
            raise
        yield from self._answer(self._voice_logits, settings)

    def _end_voice(self, text: str, settings: ev.GenerationSettings) -> Iterator[ev.Event]:
        yield from self._feed_voice(final=True)
        voice, self.voice = self.voice, None
        content = [{"type": "audio"} for _ in range(voice.clips)]
        if text.strip():
            content.append({"type": "text", "text": text})
        message = {"role": "user", "content": content}
        rendered, _ = self._new_turn_text(message, settings.enable_thinking)
        tail = rendered[rendered.rindex("<|audio|>") + len("<|audio|>"):]
        self.messages.append({"role": "user", "content": content})
        ids = [self.eoa_token_id] + self._encode(tail)
        self._check_room(len(ids), settings.max_tokens)
        self._voice_logits = yield from self._prefill(Segment(np.asarray(ids, np.int32)))

    def cancel_voice(self) -> None:
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

    # ------------------------------------------------------------------ internals

    def _new_turn_text(self, message: dict, enable_thinking: bool):
        media = _media_of(message["content"])
        msg = _template_message(message)
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
        need = self.offset + n_tokens + min(answer_budget, 1)
        if need > self.context_length:
            raise SessionError(
                f"the conversation is too long for the model's context: this turn needs "
                f"{self.offset + n_tokens} of {self.context_length} tokens. Start a new "
                "conversation, or edit an earlier message to go back.")

    def _begin_turn(self) -> None:
        mark = Mark(self.offset, len(self.segments), len(self.messages),
                    meta={"answer_open": self.answer_open})
        self.turns.append(mark)
        self.awaiting_tools = []
        self._snapshot(mark)

    def _undo_turn(self) -> None:
        """Take back a turn whose prefill did not finish."""
        mark = self.turns.pop()
        self._restore(mark)

    def _snapshot(self, mark: Mark) -> None:
        mark.snapshot = empty_snapshot(self.cache) if self.offset == 0 else snapshot_caches(self.cache)
        marks = [m for m in self.turns + self.answer_marks if m.snapshot is not None and m.offset > 0]
        marks.sort(key=lambda m: m.offset)
        for old in marks[: max(0, len(marks) - self.options.max_snapshots)]:
            old.snapshot = None

    def _restore(self, mark: Mark) -> None:
        self._restore_to_offset(mark)
        del self.segments[mark.n_segments:]
        del self.messages[mark.n_messages:]
        self.answer_open = mark.meta.get("answer_open", False)
        self.awaiting_tools = []
        self.voice = None

    def _restore_turn(self, turn: int) -> Iterator[ev.Event]:
        target = self.turns[turn]
        base = max((i for i in range(turn + 1) if self.turns[i].snapshot is not None), default=None)
        replay = self.segments[: target.n_segments]
        if base is None:
            self.cache = self.model.make_cache()
            self.offset, start = 0, 0
        else:
            self._restore_to_offset(self.turns[base])
            start = self.turns[base].n_segments
        self.segments = replay[:start]
        for seg in replay[start:]:
            yield from self._prefill(seg, want_logits=False, check_cancel=False)
        del self.messages[target.n_messages:]
        del self.turns[turn:]
        self.answer_marks = [m for m in self.answer_marks if m.offset <= target.offset]
        self.answer_open = target.meta.get("answer_open", False)
        self.awaiting_tools = []
        self.voice = None

    def _restore_to_offset(self, mark: Mark) -> None:
        """Only the cache and its offset; segments, messages and flags are the caller's."""
        if mark.snapshot is None:
            raise SessionError("no snapshot at this point")
        restore_caches(self.cache, mark.snapshot, mark.offset)
        self.offset = mark.offset

    def _feed_plain(self, ids: list[int]) -> Iterator[ev.Event]:
        yield from self._prefill(Segment(np.asarray(ids, np.int32)), want_logits=False)

    def _prefill(self, seg: Segment, want_logits: bool = True, check_cancel: bool = True
                 ) -> Iterator[ev.Event]:
        """Feed one segment in chunks; returns the logits of its last position (or None)."""
        n = len(seg)
        media = seg.media()
        has_media = any(v is not None for v in media.values())
        ids = mx.array(seg.ids[None])
        embeds = None
        if has_media:
            kw = {k: (None if v is None else mx.array(v)) for k, v in media.items()}
            embeds = self.model.embed_inputs(ids, **kw)
        step = max(1, self.options.chunk_tokens)
        start, logits = 0, None
        started = time.perf_counter()
        while start < n:
            if check_cancel and self.cancel.is_set():
                raise Cancelled()
            end = vision_runs_end(seg.ids, start, min(start + step, n),
                                  (self.image_token_id, self.video_token_id))
            last = end == n
            hidden = None
            out = self.model(
                ids[:, start:end], cache=self.cache,
                inputs_embeds=None if embeds is None else embeds[:, start:end],
                logits_to_keep=1, return_hidden=self.drafter is not None,
            )
            if self.drafter is not None:
                out, hidden = out[0], out[1][:, -1:]
            mx.eval([out] + [c.state for c in self.cache] + ([hidden] if hidden is not None else []))
            if last and want_logits:
                logits = out
                self.last_hidden = hidden
            start = end
            if n > step:
                yield ev.Progress(stage="prefill", done=start, total=n)
        self.offset += n
        self.segments.append(seg)
        self.prefill_seconds = time.perf_counter() - started
        return logits

    def _answer(self, logits, settings: ev.GenerationSettings, continuing: bool = False
                ) -> Iterator[ev.Event]:
        if not continuing:
            mark = Mark(self.offset, len(self.segments), len(self.messages), last_logits=logits,
                        meta={"last_hidden": self.last_hidden})
            self._snapshot(mark)
            self.answer_marks.append(mark)
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
        run = ev.GenerationSettings(**{**settings.__dict__, "max_tokens": max(budget, 1)})
        try:
            for step in self._steps(logits, run, stats):
                if step.stop:
                    reason = "tool_calls" if step.token == 50 else "stop"
                    break
                fed.append(step.token)
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

    def _steps(self, logits, settings, stats):
        wanted = drafter_pays_off() if settings.use_drafter is None else settings.use_drafter
        if self.drafter is not None and wanted:
            from engine.decode.speculative_session import speculative_steps

            return speculative_steps(self, logits, settings, stats)
        return generate_tokens(self.model, self.cache, logits, settings=settings,
                               config=self.gen_config, stats=stats)

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


def _media_of(content) -> dict[str, list]:
    """The payloads of a content list by kind, as `encode_prompt` takes them."""
    kinds = {"images": "image", "audios": "audio", "videos": "video"}
    if isinstance(content, str):
        return {name: [] for name in kinds}
    return {name: [c.get(kind) for c in content if c.get("type") == kind]
            for name, kind in kinds.items()}


def _template_message(message: dict) -> dict:
    """The message as the chat template needs it: media items without their payloads."""
    out = dict(message)
    content = message.get("content")
    if isinstance(content, list):
        out["content"] = [{"type": c["type"]} if c.get("type") in ("image", "audio", "video") else dict(c)
                          for c in content]
    return out


def _segment_of(inputs) -> Segment:
    def arr(x):
        return None if x is None else np.asarray(x)

    return Segment(
        ids=np.asarray(inputs.input_ids[0], np.int32),
        pixel_values=arr(inputs.pixel_values),
        image_position_ids=arr(inputs.image_position_ids),
        input_features=arr(inputs.input_features),
        input_features_mask=arr(inputs.input_features_mask),
        pixel_values_videos=arr(inputs.pixel_values_videos),
        video_position_ids=arr(inputs.video_position_ids),
    )


__all__ = ["Session", "SessionOptions", "SessionError", "Cancelled"]
