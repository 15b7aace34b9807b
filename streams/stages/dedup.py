"""The `dedup` stage: is this body a copy of one seen before, and of which?"""

from __future__ import annotations

from dataclasses import asdict

from streams.dedup_index import DedupIndex
from streams.metrics import Metrics
from streams.records import Article, InFlight
from streams.similarity import normalise

STAGE = "dedup"
TABLES = ("verdicts", "fingerprints", "roots", "bands", "expiry")
"""The faust tables DedupIndex keeps its state in, each backed by a changelog topic."""


class DedupStage:
    """Judges each body against the roots retained so far, then forgets what expired.

    Time is the input message's Kafka timestamp, never the wall clock, so a replay or a
    restarted worker reaches the same verdicts and expires the same entries.
    """

    name = STAGE

    def __init__(self, index: DedupIndex, threshold: float) -> None:
        self.index = index
        self.threshold = threshold
        # normalise() builds a table of every code point on first use; pay that here,
        # not in the event loop of a worker that must keep its consumer-group session.
        normalise("")

    def process(self, flight: InFlight) -> InFlight:
        article = flight.article
        now = flight.source.timestamp / 1000
        verdict = self.index.check(str(article["id"]), article["body"], now)
        self.index.expire(now)
        article["dedup"] = asdict(verdict)
        article["pipeline"]["stages"][STAGE] = {
            "method": "minhash-lsh",
            "threshold": self.threshold,
        }
        return flight

    @staticmethod
    def observe(metrics: Metrics, article: Article) -> None:
        metrics.dedup.labels(status=article["dedup"]["status"]).inc()
