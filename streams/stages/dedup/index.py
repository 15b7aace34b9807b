"""Duplicate verdicts over a retention window, with all state in caller-provided mappings."""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from streams.records import Status, Verdict
from streams.stages.dedup.similarity import (
    band_keys,
    decode_signature,
    encode_signature,
    fingerprint,
    normalise,
    shingle_hashes,
    signature,
    similarity,
)

State = MutableMapping[str, Any]
"""A str-keyed mapping of JSON values: a dict in tests, a faust table (without a default
factory, so that reading a missing key creates nothing) in the worker."""

DEFAULT_BUCKET_SECONDS = 3600.0
DEFAULT_MAX_BUCKET_ROOTS = 64
EXPIRY_CHUNK = 64
"""Ids per expiry-index value: appending rewrites the whole value, so it must stay small."""

_BUCKETS_KEY = "buckets"


_UNIQUE = Verdict("unique", None, None)


@dataclass(frozen=True, slots=True)
class _Root:
    """What indexes a new root: its fingerprint, MinHash signature and LSH bucket keys."""

    digest: str
    sig: NDArray[np.uint16]
    keys: list[str]


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verdict not yet recorded: the stage records it once the article's record is sent."""

    article_id: str
    verdict: Verdict
    timestamp: float
    root: _Root | None
    """Set when the article becomes a root."""
    stored: bool = False
    """True when the verdict came from state: there is nothing new to record."""


class DedupIndex:
    """Finds the root an article duplicates, or makes the article a root.

    Every piece of state lives in the five mappings passed in, so that a faust worker can back
    them with RocksDB tables and changelog topics and a restarted or moved worker recovers them.
    Values are rebuilt, never mutated in place, because a faust table only persists assignments.

    - verdicts: article id -> {"ts", "status", "of"?, "sim"?}, so a redelivered id gets its
      stored verdict back.
    - fingerprints: normalised-body fingerprint -> {"root", "ts"}, for exact duplicates.
    - roots: root id -> {"ts", "fp", "sig"} with the base64 MinHash signature.
    - bands: LSH bucket key -> root ids (at most max_bucket_roots).
    - expiry: "buckets" -> live time buckets; "<bucket>" -> ids recorded in it;
      "<bucket>:<chunk>" -> up to EXPIRY_CHUNK of those ids. expire() reads only the buckets
      that ran out instead of scanning every article.

    Only roots are indexed for matching, so groups have one root and no chains. Expiry of an
    entry counts from the article's own timestamp; lookups check it, so an expired root stops
    matching even before expire() has cleared it.
    """

    def __init__(
        self,
        *,
        verdicts: State,
        fingerprints: State,
        roots: State,
        bands: State,
        expiry: State,
        threshold: float,
        retention_seconds: float,
        bucket_seconds: float = DEFAULT_BUCKET_SECONDS,
        max_bucket_roots: int = DEFAULT_MAX_BUCKET_ROOTS,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if retention_seconds <= 0 or bucket_seconds <= 0 or max_bucket_roots < 1:
            raise ValueError("retention, bucket width and bucket capacity must be positive")
        self._verdicts = verdicts
        self._fingerprints = fingerprints
        self._roots = roots
        self._bands = bands
        self._expiry = expiry
        self._threshold = threshold
        self._retention = retention_seconds
        self._bucket_seconds = bucket_seconds
        self._max_bucket_roots = max_bucket_roots

    def check(self, article_id: str, body: str, timestamp: float) -> Verdict:
        """Judge one article and record the verdict at once (see judge and record)."""
        judgement = self.judge(article_id, body, timestamp)
        self.record(judgement)
        return judgement.verdict

    def judge(self, article_id: str, body: str, timestamp: float) -> Judgement:
        """The verdict for one article, without changing any state yet.

        timestamp is the input message's Kafka timestamp in epoch seconds, never the wall
        clock, so that a replay reproduces every verdict. An id already judged gets its
        stored verdict back.
        """
        stored = self._verdicts.get(article_id)
        if stored is not None and self._live(stored["ts"], timestamp):
            verdict = Verdict(cast(Status, stored["status"]), stored.get("of"), stored.get("sim"))
            return Judgement(article_id, verdict, timestamp, None, stored=True)
        normalised = normalise(body)
        digest = fingerprint(normalised)
        exact = self._exact_match(article_id, digest, timestamp)
        if exact is not None:
            return Judgement(article_id, exact, timestamp, None)
        sig = signature(shingle_hashes(normalised))
        keys = band_keys(sig)
        near = self._near_match(article_id, sig, keys, timestamp)
        if near is not None:
            return Judgement(article_id, near, timestamp, None)
        return Judgement(article_id, _UNIQUE, timestamp, _Root(digest, sig, keys))

    def record(self, judgement: Judgement) -> None:
        """Store a verdict (and a new root), so the same id always gets it back."""
        if judgement.root is not None:
            root = judgement.root
            self._add_root(
                judgement.article_id, root.digest, root.sig, root.keys, judgement.timestamp
            )
        if not judgement.stored:
            self._record(judgement.article_id, judgement.verdict, judgement.timestamp)

    def expire(self, now: float) -> int:
        """Delete what expired by `now` (epoch seconds); returns how many articles were forgotten.

        Only whole time buckets are cleared, so an entry may outlive its retention by up to one
        bucket width; check() ignores such entries meanwhile.
        """
        cutoff = now - self._retention
        buckets: list[int] = self._expiry.get(_BUCKETS_KEY, [])
        due = [bucket for bucket in buckets if (bucket + 1) * self._bucket_seconds <= cutoff]
        if not due:
            return 0
        forgotten = 0
        for bucket in due:
            count = self._expiry.pop(str(bucket), 0)
            for chunk in range(math.ceil(count / EXPIRY_CHUNK)):
                for article_id in self._expiry.pop(f"{bucket}:{chunk}", []):
                    forgotten += self._forget(article_id, cutoff)
        self._expiry[_BUCKETS_KEY] = [bucket for bucket in buckets if bucket not in due]
        return forgotten

    def _live(self, entry_timestamp: float, timestamp: float) -> bool:
        return timestamp < entry_timestamp + self._retention

    def _exact_match(self, article_id: str, digest: str, timestamp: float) -> Verdict | None:
        entry = self._fingerprints.get(digest)
        if entry is None or entry["root"] == article_id or not self._live(entry["ts"], timestamp):
            return None
        return Verdict("exact_duplicate", entry["root"], 1.0)

    def _near_match(
        self, article_id: str, sig: NDArray[np.uint16], keys: list[str], timestamp: float
    ) -> Verdict | None:
        """Best live root among the LSH candidates; ties go to the earliest root, then lowest id,
        so the verdict does not depend on the order of bucket lists."""
        candidates = dict.fromkeys(root for key in keys for root in self._bands.get(key, ()))
        best: tuple[float, float, str] | None = None
        for root_id in candidates:
            root = None if root_id == article_id else self._roots.get(root_id)
            if root is None or not self._live(root["ts"], timestamp):
                continue
            score = similarity(sig, decode_signature(root["sig"]))
            rank = (-score, float(root["ts"]), root_id)
            if score >= self._threshold and (best is None or rank < best):
                best = rank
        if best is None:
            return None
        return Verdict("near_duplicate", best[2], -best[0])

    def _add_root(
        self,
        article_id: str,
        digest: str,
        sig: NDArray[np.uint16],
        keys: list[str],
        timestamp: float,
    ) -> None:
        previous = self._roots.get(article_id)
        if previous is not None:
            self._unlink_root(article_id, previous)
        self._fingerprints[digest] = {"root": article_id, "ts": timestamp}
        self._roots[article_id] = {"ts": timestamp, "fp": digest, "sig": encode_signature(sig)}
        for key in keys:
            members: list[str] = self._bands.get(key, [])
            if len(members) < self._max_bucket_roots:
                self._bands[key] = [*members, article_id]

    def _unlink_root(self, article_id: str, root: dict[str, Any]) -> None:
        """Remove a root from the fingerprint and bucket indexes (not from roots itself)."""
        entry = self._fingerprints.get(root["fp"])
        if entry is not None and entry["root"] == article_id:
            del self._fingerprints[root["fp"]]
        for key in band_keys(decode_signature(root["sig"])):
            members: list[str] = self._bands.get(key, [])
            if article_id in members:
                rest = [member for member in members if member != article_id]
                if rest:
                    self._bands[key] = rest
                else:
                    del self._bands[key]

    def _record(self, article_id: str, verdict: Verdict, timestamp: float) -> None:
        stored: dict[str, Any] = {"ts": timestamp, "status": verdict.status}
        if verdict.duplicate_of is not None:
            stored |= {"of": verdict.duplicate_of, "sim": verdict.similarity}
        self._verdicts[article_id] = stored
        bucket = math.floor(timestamp / self._bucket_seconds)
        count: int | None = self._expiry.get(str(bucket))
        if count is None:
            count = 0
            self._expiry[_BUCKETS_KEY] = [*self._expiry.get(_BUCKETS_KEY, []), bucket]
        chunk_key = f"{bucket}:{count // EXPIRY_CHUNK}"
        self._expiry[chunk_key] = [*self._expiry.get(chunk_key, []), article_id]
        self._expiry[str(bucket)] = count + 1

    def _forget(self, article_id: str, cutoff: float) -> int:
        """Delete an article's entries if it expired; 0 when it was recorded again since."""
        stored = self._verdicts.get(article_id)
        if stored is None or stored["ts"] > cutoff:
            return 0
        del self._verdicts[article_id]
        root = self._roots.get(article_id)
        if root is not None and root["ts"] <= cutoff:
            self._unlink_root(article_id, root)
            del self._roots[article_id]
        return 1
