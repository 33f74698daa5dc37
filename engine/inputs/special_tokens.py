"""Which generated tokens never become answer text: the tokenizer's special tokens.

`hidden_token_ids(tokenizer)` gives the ids of every token the tokenizer marks special (`<bos>`,
`<|turn>`, `<|image>`, `<unused12>`, ...) except those the output parser must see to split the stream:
the thought channel and tool-call markers, the end of the turn, `<|tool_response>` and the `<|"|>`
string quote of tool calls. A session leaves the hidden ones out of the detokenized stream (they stay
in the cache), so no control-token text reaches an answer. The result is kept per tokenizer.
"""

from __future__ import annotations

import weakref
from typing import Any

from engine.inputs.gemma_syntax import QUOTE
from engine.inputs.output_parser import CONTROL_TOKENS

PARSER_TOKENS = frozenset((*CONTROL_TOKENS, QUOTE))

_KEPT: "weakref.WeakKeyDictionary[Any, frozenset[int]]" = weakref.WeakKeyDictionary()


def hidden_token_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the special tokens that are not shown as text (see the module docstring)."""
    try:
        return _KEPT[tokenizer]
    except (KeyError, TypeError):
        pass
    added = tokenizer.added_tokens_decoder  # {id: AddedToken}, Hugging Face's view
    hidden = frozenset(
        int(i) for i, tok in added.items() if tok.special and tok.content not in PARSER_TOKENS
    )
    try:
        _KEPT[tokenizer] = hidden
    except TypeError:  # not weakly referable: computed again next time
        pass
    return hidden
