"""Reading and writing topics outside any consumer group: what the commands share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.kafka.clients import producer, reader
from streams.kafka.topics import partitions_of
from streams.settings import Settings

Message = tuple[bytes | None, bytes]
"""A key and a value, as a producer sends them."""
Headers = list[tuple[str, bytes]]
"""Kafka headers, as a producer sends them; ours carry them from input to output."""
Received: TypeAlias = "ConsumerRecord[bytes, bytes]"


async def assign_all(
    consumer: AIOKafkaConsumer, settings: Settings, topic: str
) -> list[TopicPartition]:
    """Read every partition of `topic` without joining a group, so nothing is committed."""
    assigned = [TopicPartition(topic, number) for number in await partitions_of(settings, topic)]
    consumer.assign(assigned)
    return assigned


async def read_records(
    settings: Settings,
    topic: str,
    handle: Callable[[Received], bool],
    idle_timeout: float,
    start: dict[int, int] | None = None,
) -> None:
    """Feed each record to `handle` until it returns False or nothing arrives for a while."""
    consumer = reader(settings)
    await consumer.start()
    try:
        assigned = await assign_all(consumer, settings, topic)
        await consumer.seek_to_beginning(*assigned)
        for partition in assigned:
            if start and partition.partition in start:
                consumer.seek(partition, start[partition.partition])
        while True:
            batches = await consumer.getmany(timeout_ms=int(idle_timeout * 1000))
            if not batches:
                return
            for records in batches.values():
                for record in records:
                    if not handle(record):
                        return
    finally:
        await consumer.stop()


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Where each partition of `topic` ends now: the start of what is written from here on."""
    consumer = reader(settings)
    await consumer.start()
    try:
        assigned = await assign_all(consumer, settings, topic)
        ends = await consumer.end_offsets(assigned)
        return {partition.partition: offset for partition, offset in ends.items()}
    finally:
        await consumer.stop()


async def publish(
    settings: Settings,
    topic: str,
    messages: Sequence[Message],
    headers: Sequence[Headers] | None = None,
) -> None:
    """Send everything, each message with its headers if given, then wait for every
    acknowledgement before returning."""
    client = producer(settings)
    try:
        await client.start()
        each = [None] * len(messages) if headers is None else headers
        batch = [
            await client.send(topic, value=value, key=key, headers=sent_headers)
            for (key, value), sent_headers in zip(messages, each, strict=True)
        ]
        for future in batch:
            await future
    finally:
        await client.stop()
