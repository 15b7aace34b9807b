"""Normalisation, fingerprints, shingles and MinHash sketches behave as dedup relies on."""

from __future__ import annotations

import random

import numpy as np
import pytest

from streams.stages.dedup import similarity as sim
from tests.unit.synthetic import edit


def words(seed: int, count: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(count)
    )


def true_jaccard(first: str, second: str) -> float:
    a = set(sim.shingle_hashes(sim.normalise(first)).tolist())
    b = set(sim.shingle_hashes(sim.normalise(second)).tolist())
    return len(a & b) / len(a | b)


def sketch(text: str) -> np.ndarray:
    return sim.signature(sim.shingle_hashes(sim.normalise(text)))


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("The  Quick\tBrown\n\nFox", "the quick brown fox"),
        ("\uff26\uff35\uff2c\uff2c width \u216b", "full width xii"),
        ("Straße STRASSE", "strasse strasse"),
        ("well-known, (really!) “quoted” \u2013 text…", "well known really quoted text"),
        ("soft\u00adhyphen zero\u200bwidth \ufeffbom", "softhyphen zerowidth bom"),
        ("AT&amp;T &nbsp;rocks", "at t rocks"),
        ("end.Start of 1.13bn", "end start of 1 13bn"),
        ("  leading and trailing  ", "leading and trailing"),
        ("!!! ???", ""),
        ("cafe\u0301 café", "café café"),
    ],
)
def test_normalise_equivalences(variant: str, canonical: str) -> None:
    assert sim.normalise(variant) == canonical


def test_normalise_keeps_what_distinguishes_texts() -> None:
    assert sim.normalise("Shares rose 3%") != sim.normalise("Shares rose 5%")
    assert sim.normalise("Share this article\nbody") == "share this article body"


def test_spaceless_scripts_become_one_word_per_character() -> None:
    assert sim.normalise("东京是首都。今日は") == "东 京 是 首 都 今 日 は"
    assert sim.normalise("東京 Tower") == "東 京 tower"
    assert sim.normalise("ภาษาไทย") == "ภ า ษ า ไ ท ย"


def test_lone_surrogate_is_a_word_break_not_an_error() -> None:
    assert sim.normalise("bad\ud800text") == "bad text"


def test_fingerprint_equal_only_for_equal_normalised_text() -> None:
    assert sim.fingerprint(sim.normalise("Hello, World!")) == sim.fingerprint(
        sim.normalise("hello world")
    )
    assert sim.fingerprint("hello world") != sim.fingerprint("hello worlds")
    assert len(sim.fingerprint("")) == 32


def test_shingle_counts() -> None:
    assert sim.shingle_hashes("").size == 0
    assert sim.shingle_hashes("one").size == 1
    assert sim.shingle_hashes("one two").size == 1
    assert sim.shingle_hashes("one two three four five").size == 3
    assert sim.shingle_hashes("东 京 是 首 都").size == 3


def test_shingles_depend_on_words_not_on_position() -> None:
    prefix = set(sim.shingle_hashes("a b c d").tolist())
    assert prefix <= set(sim.shingle_hashes("x a b c d e").tolist())
    assert sim.shingle_hashes("ab c d")[0] != sim.shingle_hashes("ba c d")[0]
    assert sim.shingle_hashes("a b c")[0] != sim.shingle_hashes("c b a")[0]


def test_hashes_and_signatures_are_pinned() -> None:
    """Stored state is only comparable while these stay the same across processes and
    library upgrades (rensa's MinHash algorithm in particular)."""
    text = sim.normalise("The quick brown fox jumps over the lazy dog.")
    assert sim.fingerprint(text) == "5bfb7372bdb2f169ed8c800e5ee441e8"
    assert sim.shingle_hashes(text)[:2].tolist() == [606703075822822767, 3544067684093573008]
    assert sim.signature(sim.shingle_hashes(text))[:4].tolist() == [16020, 28039, 38302, 45022]


def test_similarity_estimates_jaccard() -> None:
    original = words(1)
    copy = edit(original, 0.10, seed=2)
    estimate = sim.similarity(sketch(original), sketch(copy))
    assert abs(estimate - true_jaccard(original, copy)) < 0.1
    assert 0.5 <= estimate < 0.8
    assert sim.similarity(sketch(original), sketch(original)) == 1.0
    assert sim.similarity(sketch(original), sketch(words(3))) < 0.05


def test_band_keys() -> None:
    original = sketch(words(1))
    keys = sim.band_keys(original)
    assert len(keys) == len(set(keys)) == sim.BANDS
    assert sim.band_keys(sim.decode_signature(sim.encode_signature(original))) == keys
    assert not set(keys) & set(sim.band_keys(sketch(words(3))))
    assert set(keys) & set(sim.band_keys(sketch(edit(words(1), 0.05, seed=4))))


def test_signature_round_trips_through_text() -> None:
    original = sketch(words(1))
    encoded = sim.encode_signature(original)
    assert isinstance(encoded, str)
    assert np.array_equal(sim.decode_signature(encoded), original)
    assert original.dtype == np.dtype("<u2")
    assert original.size == sim.NUM_PERM
