"""Duplicate verdicts over a retention window, with all state in caller-provided mappings."""

from __future__ import annotations

import heapq
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

    Two mappings passed in are the state, which a faust worker backs with RocksDB tables and
    changelog topics, so that a restarted or moved worker recovers them:

    - verdicts: article id -> {"ts", "status", "of"?, "sim"?}, so a redelivered id gets its
      stored verdict back;
    - roots: root id -> {"ts", "fp", "sig"} with the base64 MinHash signature.

    What finds candidates is derived from them and kept in memory, rebuilt by `rebuild()`
    once the tables are restored: the exact-copy fingerprints, the LSH bands (16 keys per
    root, each a changelog write when they were tables: most of the stage's cost) and the
    expiry buckets. Per article that leaves one state write, two for a new root.

    Only roots are indexed for matching, so groups have one root and no chains. Expiry of an
    entry counts from the article's own timestamp; lookups check it, so an expired root stops
    matching even before expire() has cleared it. Values are rebuilt, never mutated in place,
    because a faust table only persists assignments.
    """

    def __init__(
        self,
        *,
        verdicts: State,
        roots: State,
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
        self._roots = roots
        self._threshold = threshold
        self._retention = retention_seconds
        self._bucket_seconds = bucket_seconds
        self._max_bucket_roots = max_bucket_roots
        self._fingerprints: dict[str, str] = {}
        """Normalised-body fingerprint -> the root that has it."""
        self._bands: dict[str, list[str]] = {}
        """LSH bucket key -> the roots in it, every one of them."""
        self._root_times: dict[str, float] = {}
        self._expiry: dict[int, list[str]] = {}
        """Time bucket -> the ids recorded in it, so expire() reads only what ran out."""
        self.rebuild()

    def rebuild(self) -> tuple[int, int]:
        """Derive the in-memory lookups from the two mappings, as they are now; return how
        many roots and verdicts they hold."""
        self._fingerprints.clear()
        self._bands.clear()
        self._root_times.clear()
        self._expiry.clear()
        for root_id, root in self._roots.items():
            self._index_root(root_id, root)
        verdicts = 0
        for article_id, stored in self._verdicts.items():
            self._expire_later(article_id, stored["ts"])
            verdicts += 1
        return len(self._root_times), verdicts

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
            self._add_root(judgement.article_id, judgement.root, judgement.timestamp)
        if not judgement.stored:
            self._record(judgement.article_id, judgement.verdict, judgement.timestamp)

    def expire(self, now: float) -> int:
        """Delete what expired by `now` (epoch seconds); returns how many articles were forgotten.

        Only whole time buckets are cleared, so an entry may outlive its retention by up to one
        bucket width; check() ignores such entries meanwhile.
        """
        cutoff = now - self._retention
        due = [b for b in self._expiry if (b + 1) * self._bucket_seconds <= cutoff]
        forgotten = 0
        for bucket in due:
            for article_id in self._expiry.pop(bucket):
                forgotten += self._forget(article_id, cutoff)
        return forgotten

    def _expire_later(self, article_id: str, timestamp: float) -> None:
        """File the article under the time bucket expire() will clear it with."""
        self._expiry.setdefault(math.floor(timestamp / self._bucket_seconds), []).append(article_id)

    def _live(self, entry_timestamp: float, timestamp: float) -> bool:
        return timestamp < entry_timestamp + self._retention

    def _exact_match(self, article_id: str, digest: str, timestamp: float) -> Verdict | None:
        root_id = self._fingerprints.get(digest)
        if root_id is None or root_id == article_id:
            return None
        if not self._live(self._root_times[root_id], timestamp):
            return None
        return Verdict("exact_duplicate", root_id, 1.0)

    def _near_match(
        self, article_id: str, sig: NDArray[np.uint16], keys: list[str], timestamp: float
    ) -> Verdict | None:
        """Best live root among the LSH candidates; ties go to the earliest root, then lowest id,
        so the verdict does not depend on the order of bucket lists."""
        best: tuple[float, float, str] | None = None
        for root_id in self.candidates(article_id, keys, timestamp):
            root = self._roots.get(root_id)
            if root is None:
                continue
            score = similarity(sig, decode_signature(root["sig"]))
            rank = (-score, float(root["ts"]), root_id)
            if score >= self._threshold and (best is None or rank < best):
                best = rank
        if best is None:
            return None
        return Verdict("near_duplicate", best[2], -best[0])

    def candidates(self, article_id: str, keys: list[str], timestamp: float) -> list[str]:
        """The live roots other than `article_id` that share a bucket key with it.

        Each bucket gives at most its `max_bucket_roots` earliest live roots (by time, then
        id): a key that boilerplate shares with thousands of roots costs no more than that,
        and which roots are scored does not depend on the order they came in.
        """
        found: dict[str, None] = {}
        for key in keys:
            members = [
                root_id
                for root_id in self._bands.get(key, ())
                if root_id != article_id and self._live(self._root_times[root_id], timestamp)
            ]
            if len(members) > self._max_bucket_roots:
                members = heapq.nsmallest(
                    self._max_bucket_roots, members, key=lambda r: (self._root_times[r], r)
                )
            found.update(dict.fromkeys(members))
        return list(found)

    def _add_root(self, article_id: str, root: _Root, timestamp: float) -> None:
        previous = self._roots.get(article_id)
        if previous is not None:
            self._unlink_root(article_id, previous)
        stored = {"ts": timestamp, "fp": root.digest, "sig": encode_signature(root.sig)}
        self._roots[article_id] = stored
        self._index_root(article_id, stored, root.keys)

    def _index_root(
        self, article_id: str, root: dict[str, Any], keys: list[str] | None = None
    ) -> None:
        self._fingerprints[root["fp"]] = article_id
        self._root_times[article_id] = float(root["ts"])
        for key in keys if keys is not None else band_keys(decode_signature(root["sig"])):
            self._bands.setdefault(key, []).append(article_id)

    def _unlink_root(self, article_id: str, root: dict[str, Any]) -> None:
        """Remove a root from the in-memory lookups (not from roots itself)."""
        if self._fingerprints.get(root["fp"]) == article_id:
            del self._fingerprints[root["fp"]]
        self._root_times.pop(article_id, None)
        for key in band_keys(decode_signature(root["sig"])):
            members = self._bands.get(key, [])
            if article_id in members:
                members.remove(article_id)
                if not members:
                    del self._bands[key]

    def _record(self, article_id: str, verdict: Verdict, timestamp: float) -> None:
        stored: dict[str, Any] = {"ts": timestamp, "status": verdict.status}
        if verdict.duplicate_of is not None:
            stored |= {"of": verdict.duplicate_of, "sim": verdict.similarity}
        self._verdicts[article_id] = stored
        self._expire_later(article_id, timestamp)

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
