"""Plain decoding under a TokenConstraint: only allowed tokens are drawn, and the constraint hears
of each token yielded before the next one is chosen."""

import mlx.core as mx
import numpy as np
import pytest

from engine import protocol as ev
from engine.decode.generation import generate_tokens
from engine.worker import load_everything


class Script:
    """Allows exactly one token at each step, from a fixed list; records what it was told."""

    def __init__(self, tokens, vocab):
        self.tokens, self.vocab, self.told = list(tokens), vocab, []

    def allowed(self):
        mask = np.zeros(self.vocab, bool)
        mask[self.tokens[len(self.told)]] = True
        return mask

    def advance(self, token):
        self.told.append(token)


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_only_allowed_tokens_are_drawn(loaded, temperature):
    model = loaded.model
    cache = model.make_cache()
    logits = model(mx.array([[2, 105, 300, 301]]), cache=cache)
    script = Script([300, 7, 301, 300, 106], model.config.text_config.vocab_size)
    settings = ev.GenerationSettings(temperature=temperature, max_tokens=10, seed=1)
    steps = list(generate_tokens(model, cache, logits, settings=settings,
                                 config=loaded.gen_config, constraint=script))
    assert [s.token for s in steps] == [300, 7, 301, 300, 106] and steps[-1].stop
    assert script.told == [300, 7, 301, 300, 106]  # told of every token yielded, the turn's end too
    assert cache[0].offset == 4 + 4  # the turn's end is not fed
