"""The hook constrained decoding plugs into: which tokens may come next.

`TokenConstraint.allowed()` gives a bool mask over the vocabulary (None: any token) and
`advance(token)` tells the constraint a token was emitted. Decoding asks `allowed()` before each
token and calls `advance()` after it (never for the token that ends the turn).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class TokenConstraint(Protocol):
    """Limits which tokens may come next (constrained decoding, e.g. a JSON schema)."""

    def allowed(self) -> np.ndarray | None: ...  # bool [vocab] mask of tokens allowed next; None = any

    def advance(self, token: int) -> None: ...  # the token was emitted
