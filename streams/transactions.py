"""Exactly-once for pipelines whose stages write to differently partitioned topics.

faust picks the transactional producer of a send by the *destination* partition, but
commits a source offset through the producer of the *source* partition. That is only
atomic when every output goes to the same partition number of a co-partitioned topic.
Our stages re-key by article id and the dedup topic has one partition, so an output and
the offset of its input would land in different transactions: a send to a partition
this worker does not own waits in a transaction nobody commits, and a crash between the
two commits drops or repeats an article. Kafka Streams keeps one producer per input
partition (task) for this reason; this manager does the same: a send made while an event
is being processed joins the transaction of that event's partition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from faust.streams import current_event
from faust.transport.consumer import TransactionManager
from faust.types import TP


class SourcePartitionTransactions(TransactionManager):
    """faust's TransactionManager, with sends bound to the transaction of their input."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Awaitable[Any]:
        event = current_event()
        if event is None:
            # Table changelogs are flushed from a background buffer, outside any event;
            # they are co-partitioned with their source, so faust's choice is right there.
            return await super().send(topic, key, value, partition, timestamp, headers)
        source = event.message
        group = self.app.assignor.group_for_topic(source.topic)
        return await self.producer.send(
            topic,
            key,
            value,
            self.consumer.key_partition(topic, key, partition),
            timestamp,
            headers,
            transactional_id=f"{self.app.conf.id}-{group}-{source.partition}",
        )

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        """Publish buffered table changes first, so they commit with the offsets they follow."""
        await self.app.producer.buffer.flush()
        result: bool = await super().commit(offsets, start_new_transaction)
        return result
