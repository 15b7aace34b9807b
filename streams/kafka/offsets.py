"""Where each consumer group stands on its topics: committed offsets against the log's ends.

Both the workers' lag metrics and `streams status` read progress here, from Kafka itself,
so they agree with each other and survive worker restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.kafka.clients import admin, reader
from streams.settings import Settings

PROBE_OFFSETS = 1000
"""Lags up to this many offsets are read to see whether any record is left in them.

A topic written in transactions (every stage's output under exactly_once) ends each
transaction with a commit marker, and a writer that crashed leaves aborted records:
offsets that no read_committed consumer receives and no commit can move past. Without
the check, every idle partition would show a lag of at least one and count as stalled.
"""
PROBE_SECONDS = 5.0
"""How long one read for a record may take before the answer is "there is one"."""


@dataclass(frozen=True, slots=True)
class Progress:
    """One partition of one topic, as one group has consumed it."""

    topic: str
    partition: int
    start: int
    """The oldest offset still in the log."""
    end: int
    """The offset the next message will get."""
    committed: int | None
    """The group's committed offset, None before its first commit."""
    drained: bool = False
    """Nothing left to read past `committed`: only transaction markers or aborted records."""

    @property
    def lag(self) -> int:
        """Offsets in the log that the group has not yet processed, and will receive."""
        return 0 if self.drained else self.end - max(self.start, self.committed or 0)

    @property
    def messages(self) -> int:
        """Messages in the log (offsets, so transaction markers count too)."""
        return self.end - self.start


class OffsetReader:
    """An admin client and a group-less consumer, opened once and reused for every sample."""

    def __init__(self, settings: Settings) -> None:
        self._admin: AIOKafkaAdminClient = admin(settings)
        self._consumer: AIOKafkaConsumer = reader(settings)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def __aenter__(self) -> OffsetReader:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        described = await self._admin.describe_topics(list(topics))
        return sorted(
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            for partition in topic["partitions"]
        )

    async def progress(self, group: str, topics: Iterable[str]) -> list[Progress]:
        """Every partition of `topics` with the group's position on it."""
        partitions = await self.partitions(topics)
        if not partitions:
            return []
        starts = await self._consumer.beginning_offsets(partitions)
        ends = await self._consumer.end_offsets(partitions)
        committed = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
        progress = [
            Progress(
                topic=tp.topic,
                partition=tp.partition,
                start=starts[tp],
                end=ends[tp],
                committed=committed[tp].offset
                if tp in committed and committed[tp].offset >= 0
                else None,
            )
            for tp in partitions
        ]
        behind = {
            TopicPartition(item.topic, item.partition): item
            for item in progress
            if 0 < item.lag <= PROBE_OFFSETS and item.committed is not None
        }
        drained = await self._drained(behind) if behind else set()
        return [
            replace(item, drained=True)
            if TopicPartition(item.topic, item.partition) in drained
            else item
            for item in progress
        ]

    async def _drained(self, behind: dict[TopicPartition, Progress]) -> set[TopicPartition]:
        """The partitions where a read_committed consumer at the committed offset gets nothing."""
        return {
            tp
            for tp, item in behind.items()
            if await first_committed_record(self._consumer, tp, item.committed or 0, item.end)
            is None
        }


async def first_committed_record(
    consumer: AIOKafkaConsumer, tp: TopicPartition, first: int, after: int
) -> int | None:
    """The offset of the first record a read_committed `consumer` gets in [first, after).

    None when the range holds only transaction markers and aborted records. A read
    that gives no answer in time counts as a record at `first`, the safe side.
    """
    consumer.assign([tp])
    consumer.seek(tp, first)
    deadline = asyncio.get_running_loop().time() + PROBE_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        records = await consumer.getmany(tp, timeout_ms=200, max_records=1)
        for record in records.get(tp, []):
            return record.offset if record.offset < after else None
        if await consumer.position(tp) >= after:
            return None
    return first  # no answer: assume the worst, and read the gap again
