"""Where each consumer group stands on its topics: committed offsets against the log's ends.

Both the workers' lag metrics and `streams status` read progress here, from Kafka itself,
so they agree with each other and survive worker restarts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.clients import admin, reader
from streams.settings import Settings


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

    @property
    def lag(self) -> int:
        """Messages in the log that the group has not yet processed."""
        return self.end - max(self.start, self.committed or 0)

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
        return [
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
