"""Articles for the delivery tests, and the check that each of them ended exactly once."""

from __future__ import annotations

import random

import orjson

Message = tuple[bytes, bytes]

ARTICLES = 3000
BAD_EVERY = 50
BROKEN = b"{broken json"


def short_articles(prefix: str, count: int = ARTICLES) -> list[Message]:
    """Short articles, every BAD_EVERY-th one broken so the dead-letter path is in flight too."""
    batch = []
    for n in range(count):
        key = f"{prefix}-{n}".encode()
        if n % BAD_EVERY == 0:
            batch.append((key, BROKEN))
        else:
            body = f"Meldung {n}: Der Stadtrat hat am Abend über den Haushalt {n % 97} beraten."
            batch.append((key, orjson.dumps({"id": key.decode(), "body": body})))
    return batch


def distinct_bodies(count: int, seed: int = 7, words: int = 60) -> list[str]:
    """Bodies that share no word 3-shingles to speak of: random words from a large vocabulary."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzäöü"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(20_000)]
    return [" ".join(rng.choices(vocabulary, k=words)).capitalize() + "." for _ in range(count)]


def edited(body: str, seed: int) -> str:
    """A near copy: two words replaced, a sentence of site debris before and after."""
    rng = random.Random(seed)
    tokens = body.split()
    for position in rng.sample(range(len(tokens)), 2):
        tokens[position] = "geändert"
    return "Startseite › Politik\n\n" + " ".join(tokens) + "\n\nImpressum | Datenschutz"


def originals_and_copies(prefix: str, count: int) -> tuple[list[Message], list[Message]]:
    """`count` distinct originals, and a copy of each: exact for even n, edited for odd n."""
    originals, copies = [], []
    for n, body in enumerate(distinct_bodies(count)):
        original = f"{prefix}-o{n}"
        copy = f"{prefix}-c{n}"
        originals.append((original.encode(), orjson.dumps({"id": original, "body": body})))
        copied = body if n % 2 == 0 else edited(body, n)
        copies.append((copy.encode(), orjson.dumps({"id": copy, "body": copied})))
    return originals, copies


def assert_each_once(found: dict[bytes, list[bytes]], batch: list[Message], guarantee: str) -> None:
    """Every message ended, where it should; none twice under exactly_once.

    Broken messages must be invalid_json dead letters and every other one enriched: an
    article that became a dead letter because a send failed would show up here.
    Under at_least_once repeats are allowed, but must be identical to the first copy.
    """
    keys = {key for key, _ in batch}
    missing = keys - found.keys()
    assert not missing, f"{len(missing)} articles lost, e.g. {sorted(missing)[:5]}"
    repeated = {key: copies for key, copies in found.items() if len(copies) > 1}
    print(f"{guarantee}: {len(keys)} articles, {len(repeated)} ended more than once")
    if guarantee == "exactly_once":
        assert not repeated, f"{len(repeated)} articles doubled, e.g. {sorted(repeated)[:5]}"
    for copies in repeated.values():
        first = orjson.loads(copies[0])
        for copy in copies[1:]:
            other = orjson.loads(copy)
            first.pop("failed_at", None)
            other.pop("failed_at", None)
            assert other == first
    broken = {key for key, value in batch if value == BROKEN}
    codes = {key: orjson.loads(copies[0]).get("error_code") for key, copies in found.items()}
    wrong = {
        key: code
        for key, code in codes.items()
        if code != ("invalid_json" if key in broken else None)
    }
    assert not wrong, (
        f"{len(wrong)} articles ended in the wrong place, e.g. {list(wrong.items())[:5]}"
    )
