"""Decoding with the MTP drafter inside a live session (same steps and cache contract as plain decoding)."""

from __future__ import annotations

from engine.decode.speculative import MTPDraftSource, generate_speculative


def speculative_steps(session, logits, settings, stats):
    return generate_speculative(
        session.model, MTPDraftSource(session.model, session.drafter), session.cache, logits,
        settings=settings, config=session.gen_config, stats=stats, hidden_last=session.last_hidden,
    )
