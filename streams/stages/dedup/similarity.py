"""Text normalisation, fingerprints and MinHash/LSH sketches for duplicate detection."""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import unicodedata

import numpy as np
import rensa
from numpy.typing import NDArray

NUM_PERM = 256
"""MinHash values per signature: the estimate's standard error at J=0.6 is 0.031, so a copy
with 10% of its words edited (J about 0.6) is accepted at the 0.5 threshold with p=0.999."""

BANDS = 16
"""LSH bands of ROWS values each (the first 32 values): a pair becomes a candidate with
p=0.990 at J=0.5, 0.999 at J=0.6, and 0.15 at J=0.1. Rows of two instead of three halve the
bucket keys per root; unrelated news (J below 0.01 at p99) still rarely collides."""

ROWS = 2
"""Values per LSH band; see BANDS."""

SEED = 20240601
"""MinHash permutation seed. Changing it, NUM_PERM or rensa's algorithm (a test pins a known
signature) makes stored signatures incomparable: new copies of retained roots go unnoticed."""

SIGNATURE_DTYPE = np.dtype("<u2")
"""Each MinHash value is kept to its low 16 bits (b-bit MinHash): half the bytes of u32, and two
different values agree by chance with p=2**-16, a bias far below the estimate's sampling error."""

_SEPARATOR, _KEEP, _DROP, _SPACELESS = 0, 1, 2, 3
_SPACE = 0x20
_SPACELESS_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)

# splitmix64 and shingle-combining constants: odd 64-bit multipliers with well-mixed bits.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SHINGLE_WEIGHTS = (np.uint64(0xD6E8FEB86659FD93), np.uint64(0xA0761D6478BD642F))


@functools.cache
def _char_classes() -> NDArray[np.uint8]:
    """Class of every code point, built once: a table lookup is the only way to classify a 5 KB
    text by Unicode category in microseconds (a regex over the same classes costs ~0.5 ms)."""
    table = bytearray(0x110000)  # zero is _SEPARATOR
    for code in range(0x110000):
        category = unicodedata.category(chr(code))
        if category[0] in "LMN":
            table[code] = _KEEP
        elif category == "Cf":
            table[code] = _DROP
    classes = np.frombuffer(table, dtype=np.uint8).copy()
    for first, last in _SPACELESS_RANGES:
        span = classes[first : last + 1]
        span[span == _KEEP] = _SPACELESS
    classes.flags.writeable = False
    return classes


def _codepoints(text: str) -> NDArray[np.uint32]:
    """Code points of text; lone surrogates pass through so that no input can make this raise."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def normalise(text: str) -> str:
    """The canonical form that exact duplicates share and shingles are cut from.

    HTML entities are decoded and the text NFKC-normalised and casefolded, because copies of one
    story differ in escaping, width forms, ligatures and case. Invisible format characters (soft
    hyphens, zero-width spaces, BOMs, bidi marks) are deleted, since scrapers leave them inside
    words. Every other non-letter, non-mark, non-digit becomes a word break: punctuation and
    symbols are restyled by every site and a missing space after a full stop must not glue two
    words together. Each character of a script written without spaces (Chinese, Japanese, Thai,
    Lao, Khmer, Myanmar) becomes a word of its own, so word shingles turn into character shingles
    there. Site debris ("Share this article", cookie notices) is deliberately kept: a line list is
    language- and site-specific, a wrong removal would make different texts exact duplicates, and
    a few extra lines lower the Jaccard similarity of a long article only a little.
    """
    folded = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    codes = _codepoints(folded)
    classes: NDArray[np.uint8] = _char_classes()[codes]
    kept = classes != _DROP
    codes, classes = codes[kept], classes[kept]
    codes = np.where(classes == _SEPARATOR, np.uint32(_SPACE), codes)
    spaceless = classes == _SPACELESS
    if spaceless.any():
        widths = np.where(spaceless, 3, 1)
        starts = np.cumsum(widths) - widths
        expanded = np.repeat(codes, widths)
        expanded[starts[spaceless]] = _SPACE
        expanded[starts[spaceless] + 2] = _SPACE
        codes = expanded
    space: NDArray[np.bool_] = codes == _SPACE
    redundant = space & np.concatenate(([True], space[:-1]))
    codes = codes[~redundant]
    if codes.size and codes[-1] == _SPACE:
        codes = codes[:-1]
    return codes.tobytes().decode("utf-32-le")


def fingerprint(normalised: str) -> str:
    """Exact-duplicate key: 128 bits keep accidental collisions out of reach at any news volume."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).hexdigest()


def _mix(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64 finaliser: spreads sums and products of hashes over all 64 bits."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX1
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX2
    return values ^ (values >> np.uint64(31))


def shingle_hashes(normalised: str) -> NDArray[np.uint64]:
    """64-bit hashes of the word 3-shingles of a normalised text, computed with array operations.

    Joining and hashing shingle strings one by one in Python costs ~0.5 ms for a 5 KB article,
    this ~0.06 ms: each character is hashed with its offset in its word, the results summed per
    word, and three word hashes combined per shingle. The hashes depend on nothing but the text
    (no per-process salt), so signatures stored by one worker match those computed by another.
    A text of one or two words is a single shingle; an empty text has none.
    """
    codes = _codepoints(normalised).astype(np.uint64)
    if codes.size == 0:
        return np.zeros(0, dtype=np.uint64)
    breaks = np.flatnonzero(codes == _SPACE)
    starts = np.concatenate(([0], breaks + 1))
    lengths = np.concatenate((breaks, [codes.size])) - starts
    word_starts = np.repeat(starts, lengths + 1)[: codes.size]
    offsets = (np.arange(codes.size) - word_starts).astype(np.uint64)
    chars = _mix(codes * _GOLDEN + offsets)
    chars[breaks] = 0
    words = _mix(np.add.reduceat(chars, starts) + lengths.astype(np.uint64))
    if words.size < 3:
        words = np.concatenate((words, np.zeros(3 - words.size, dtype=np.uint64)))
    first, second = _SHINGLE_WEIGHTS
    return _mix(words[:-2] * first + words[1:-1] * second + words[2:])


def signature(shingles: NDArray[np.uint64]) -> NDArray[np.uint16]:
    """MinHash signature of a shingle set, by rensa (Rust, ~10 us for a 5 KB article)."""
    offsets = np.array([0, shingles.size], dtype=np.uint64)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(shingles, offsets, NUM_PERM, SEED)
    return np.asarray(matrix.to_rows()[0], dtype=np.uint32).astype(SIGNATURE_DTYPE)


def similarity(first: NDArray[np.uint16], second: NDArray[np.uint16]) -> float:
    """Estimated Jaccard similarity: the share of MinHash values two signatures agree on."""
    return int(np.count_nonzero(first == second)) / NUM_PERM


def band_keys(sig: NDArray[np.uint16]) -> list[str]:
    """LSH bucket keys: two texts share a bucket when all ROWS values of one band agree.

    The band's raw values are the key (hex), so keys can be recomputed from a stored signature
    when a root expires, and the band number keeps equal values of different bands apart.
    """
    raw = sig[: BANDS * ROWS].tobytes()
    width = ROWS * SIGNATURE_DTYPE.itemsize
    return [f"{band:02x}{raw[band * width : (band + 1) * width].hex()}" for band in range(BANDS)]


def encode_signature(sig: NDArray[np.uint16]) -> str:
    """Signature as base64 text, the form a JSON-serialised state table can hold."""
    return base64.b64encode(sig.astype(SIGNATURE_DTYPE).tobytes()).decode("ascii")


def decode_signature(text: str) -> NDArray[np.uint16]:
    """Inverse of encode_signature."""
    return np.frombuffer(base64.b64decode(text), dtype=SIGNATURE_DTYPE)
