"""The `dedup` stage: is this body a copy of one seen before, and of which?"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import asdict

from streams.dedup_index import DedupIndex, Judgement
from streams.metrics import Metrics
from streams.records import Article, InFlight
from streams.similarity import normalise

STAGE = "dedup"
EXPIRY_WINDOW = 255
"""Articles whose median timestamp drives expiry."""
TABLES = ("verdicts", "fingerprints", "roots", "bands", "expiry")
"""The faust tables DedupIndex keeps its state in, each backed by a changelog topic."""


class ExpiryClock:
    """Event time for forgetting: the median Kafka timestamp of the last articles judged.

    The largest timestamp seen would let one message stamped years ahead expire all state
    at once; a median moves only when most recent articles do. It only decides when state
    is deleted: a lookup ignores expired entries by the article's own timestamp anyway.
    """

    def __init__(self, window: int = EXPIRY_WINDOW) -> None:
        self._recent: deque[float] = deque(maxlen=window)
        self._sorted: list[float] = []

    def observe(self, timestamp: float) -> float:
        """Take one article's timestamp; return the clock's new reading."""
        if len(self._recent) == self._recent.maxlen:
            del self._sorted[bisect.bisect_left(self._sorted, self._recent[0])]
        self._recent.append(timestamp)
        bisect.insort(self._sorted, timestamp)
        return self._sorted[len(self._sorted) // 2]


class DedupStage:
    """Judges each body against the roots retained so far, then forgets what expired.

    Time is the input message's Kafka timestamp, never the wall clock, so a replay or a
    restarted worker reaches the same verdicts and expires the same entries.
    """

    name = STAGE

    def __init__(self, index: DedupIndex, threshold: float) -> None:
        self.index = index
        self.threshold = threshold
        self.clock = ExpiryClock()
        self._pending: Judgement | None = None
        # normalise() builds a table of every code point on first use; pay that here,
        # not in the event loop of a worker that must keep its consumer-group session.
        normalise("")

    def process(self, flight: InFlight) -> InFlight:
        article = flight.article
        judgement = self.index.judge(
            str(article["id"]), article["body"], flight.source.timestamp / 1000
        )
        self._pending = judgement
        article["dedup"] = asdict(judgement.verdict)
        article["pipeline"]["stages"][STAGE] = {
            "method": "minhash-lsh",
            "threshold": self.threshold,
        }
        return flight

    def keep(self) -> None:
        """Record the last verdict, now that its article's record is sent."""
        judgement, self._pending = self._pending, None
        if judgement is not None:
            self.index.record(judgement)
            self.index.expire(self.clock.observe(judgement.timestamp))

    @staticmethod
    def observe(metrics: Metrics, article: Article) -> None:
        metrics.dedup.labels(status=article["dedup"]["status"]).inc()
