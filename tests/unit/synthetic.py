"""Synthetic texts for the dedup tests: reproducible, so a failure can be replayed."""

from __future__ import annotations

import random


def edit(text: str, fraction: float, seed: int) -> str:
    """`text` with `fraction` of its words replaced, as a copy edited by another site."""
    rng = random.Random(seed)
    tokens = text.split()
    for i in rng.sample(range(len(tokens)), round(fraction * len(tokens))):
        tokens[i] = f"edited{i}"
    return " ".join(tokens)
