"""A session's answers: decoding after a prompt, plainly or with the drafter, into events and the cache.

`Answering` is the answering half of `engine.session.Session` (a base class of it; it uses the session's
cache, messages, marks and cancel flag). `_answer` decodes from the prompt's last logits (or first gives out
the steps a voice turn decoded ahead, `engine.session.voice`), parses the text as it comes (thinking, answer,
tool calls), keeps every token it fed in the cache and the message, and ends with `TurnStats` and
`TurnFinished`. A constraint decodes plainly; without one, the drafter is used where it pays off.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Iterator

import mlx.core as mx
import numpy as np

from engine import protocol as ev
from engine.decode import cache as kv_cache
from engine.decode.generation import DecodeStats, Step, drafter_pays_off, generate_tokens
from engine.decode.sampling import TokenConstraint
from engine.decode.speculative import MTPDraftSource, generate_speculative
from engine.inputs.output_parser import OutputParser, ParseError, Text, Thinking
from engine.inputs.special_tokens import hidden_token_ids
from engine.inputs.types import ToolCall
from engine.session.errors import Cancelled, SessionError
from engine.session.segments import Segment

WARN_FRACTION = 0.8  # past this share of the context, each answer warns


class Answering:
    """The answering methods of a `Session` (module docstring)."""

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
                constraint: TokenConstraint | None = None, ahead: list[Step] = ()) -> Iterator[ev.Event]:
        """Decode the answer from the prompt's last `logits`; `ahead`: its first steps, decoded ahead (their
        rows already in the caches past `self.offset`)."""
        constraint = self._constraint(settings, constraint)
        stopped = self.cancel.is_set()  # a Stop before the first token
        if stopped and not self._accepted:
            raise Cancelled()  # nothing stands yet: the command is taken back
        if not continuing:
            self._mark_answer()
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
            if stopped:
                reason = "cancelled"  # the accepted prompt stays, with an empty answer
            else:
                steps = (self._steps_after(ahead, run, stats, constraint) if ahead
                         else self._steps(logits, run, stats, constraint))
                reason = yield from self._decode(steps, parser, fed, answer, calls)
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

    def _decode(self, steps, parser: OutputParser, fed: list, answer: list, calls: list
                ) -> Iterator[ev.Event]:
        """Emit the decoder's steps until a stop token, the limit or a cancel; returns the reason."""
        detok = self.tokenizer.detokenizer
        hidden = hidden_token_ids(self.tokenizer)
        try:
            for step in steps:
                yield from self._accept()
                if step.stop:
                    return "tool_calls" if step.token == self.tool_response_id else "stop"
                fed.append(step.token)
                if step.token not in hidden:  # control tokens never become answer text
                    detok.add_token(step.token)
                yield from self._parsed(parser.feed(detok.last_segment), answer, calls)
                if self.cancel.is_set():
                    return "cancelled"
            return "length"
        finally:
            steps.close()  # a speculative decoder feeds its last token when closed early

    def _steps(self, logits, settings: ev.GenerationSettings, stats: DecodeStats,
               constraint: TokenConstraint | None = None):
        """The decoder's steps: speculative with the drafter where it pays off, else plain."""
        config = self.gen_config.suppressing(self.input_only)
        wanted = drafter_pays_off() if settings.use_drafter is None else settings.use_drafter
        # A constraint decodes plainly: the drafter's proposals would have to follow the constraint too.
        if self.drafter is not None and wanted and constraint is None:
            return generate_speculative(
                self.model, MTPDraftSource(self.model, self.drafter), self.cache, logits,
                settings=settings, config=config, stats=stats, hidden_last=self.last_hidden)
        return generate_tokens(self.model, self.cache, logits, settings=settings,
                               config=config, stats=stats, constraint=constraint)

    def _steps_after(self, ahead: list[Step], settings: ev.GenerationSettings, stats: DecodeStats,
                     constraint: TokenConstraint | None):
        """The steps decoded ahead, then decoding on from the last of them (fed again for its logits)."""
        base, given = self.offset, 0
        try:
            for step in ahead[: settings.max_tokens]:
                stats.first_token_at = stats.first_token_at or time.perf_counter()
                stats.generated += 1
                if step.stop:
                    yield step
                    return
                given += 1  # counted before it is given out: the caller may stop right after it
                yield step
            rest = settings.max_tokens - given
            if rest <= 0:
                return
            kv_cache.trim_to(self.cache, base + given - 1)
            logits = self._forward_token(ahead[given - 1].token)
            yield from self._steps(logits, replace(settings, max_tokens=rest), stats, constraint)
        finally:  # stopped early: the caches keep only the steps given out
            if self.cache[0].offset > base + given and given < len(ahead):
                kv_cache.trim_to(self.cache, base + given)

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
