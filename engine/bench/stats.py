"""Statistics over repeated samples: medians, spread, and Tandem/peer ratios.

Every function takes plain lists of floats (the samples of one metric) and returns plain floats or None, so
the JSON document holds nothing but numbers, strings and lists.
"""

from __future__ import annotations

import statistics


def median(samples: list[float]) -> float | None:
    """The median of the finite samples, or None when there are none."""
    values = [s for s in samples if s is not None]
    return statistics.median(values) if values else None


def spread(samples: list[float]) -> float | None:
    """(max - min) / median: how far apart the repetitions landed (0.1 means 10 %)."""
    values = [s for s in samples if s is not None]
    mid = median(values)
    if not values or not mid:
        return None
    return (max(values) - min(values)) / abs(mid)


def ratio(tandem: float | None, peer: float | None) -> float | None:
    """Tandem's median over the peer's; None when either is missing or the peer's is zero."""
    if tandem is None or peer is None or peer == 0:
        return None
    return tandem / peer


def summarize(samples: list[float]) -> dict[str, float | int | list[float] | None]:
    """Samples, count, median, min, max and spread of one metric on one side."""
    values = [s for s in samples if s is not None]
    return {
        "samples": [round(v, 6) for v in values],
        "n": len(values),
        "median": None if not values else round(median(values), 6),
        "min": None if not values else round(min(values), 6),
        "max": None if not values else round(max(values), 6),
        "spread": None if spread(values) is None else round(spread(values), 4),
    }
