"""The `dedup` stage: is this body a copy of one seen before, and of which?"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from streams.metrics import Metrics
from streams.records import DedupBlock, Envelope, RawMessage
from streams.stages import enrich
from streams.stages.dedup.clock import ExpiryClock
from streams.stages.dedup.index import DedupIndex, Judgement
from streams.stages.dedup.similarity import normalise

if TYPE_CHECKING:
    import faust

    from streams.settings import Settings

log = logging.getLogger(__name__)

NAME = "dedup"
METHOD = "minhash-lsh"
TABLES = ("verdicts", "roots")
"""The faust tables DedupIndex keeps its state in, each backed by a changelog topic."""


class Deduplication:
    """Judges each body against the roots retained so far, then forgets what expired.

    Time is the input message's Kafka timestamp, never the wall clock, so a replay or a
    restarted worker reaches the same verdicts and expires the same entries.
    """

    name = NAME
    blocking = False

    def __init__(self, index: DedupIndex, threshold: float) -> None:
        self.index = index
        self.threshold = threshold
        self.clock = ExpiryClock()
        self._pending: Judgement | None = None
        # normalise() builds a table of every code point on first use; pay that here,
        # not in the event loop of a worker that must keep its consumer-group session.
        normalise("")

    def process(self, envelope: Envelope) -> DedupBlock:
        judgement = self.index.judge(envelope.id, envelope.body, envelope.source.timestamp / 1000)
        self._pending = judgement
        return DedupBlock(verdict=judgement.verdict, method=METHOD, threshold=self.threshold)

    def step(self, message: RawMessage) -> Envelope:
        return enrich(message, self.process)

    def observe(self, metrics: Metrics, envelope: Envelope) -> None:
        if envelope.dedup is not None:
            metrics.dedup.labels(status=envelope.dedup.verdict.status).inc()

    def keep(self) -> None:
        """Record the last verdict, now that its article's record is sent."""
        judgement, self._pending = self._pending, None
        if judgement is not None:
            self.index.record(judgement)
            self.index.expire(self.clock.observe(judgement.timestamp))


def build(settings: Settings, app: faust.App) -> Deduplication:
    """The stage with its state in RocksDB tables backed by changelogs, so a moved worker
    recovers it; tables are partitioned like the stage's one-partition input. The index's
    in-memory lookups are rebuilt each time faust has restored the tables."""
    partitions = settings.partitions_of(settings.stage_topics[NAME])
    tables: dict[str, Any] = {
        name: app.Table(f"{NAME}-{name}", partitions=partitions, key_type=str) for name in TABLES
    }
    retention = settings.dedup_retention_seconds
    index = DedupIndex(
        **tables,
        threshold=settings.dedup_threshold,
        retention_seconds=retention,
        bucket_seconds=min(3600.0, retention / 24),
    )

    async def rebuild() -> None:
        started = time.perf_counter()
        roots, verdicts = index.rebuild()
        seconds = time.perf_counter() - started
        log.info(
            "dedup: lookups rebuilt from %d roots, %d verdicts in %.1f s", roots, verdicts, seconds
        )

    tables["roots"].on_recover(rebuild)
    return Deduplication(index, settings.dedup_threshold)
