"""`streams consume`: records of a topic as JSON lines, from the start, without a group."""

from __future__ import annotations

import sys
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.clients import reader
from streams.settings import Settings
from streams.topics import partitions_of


def as_json_line(value: bytes | None) -> bytes:
    """JSON values compacted onto one line; anything else as a JSON string, never dropped."""
    if value is None:
        return b"null"
    try:
        return orjson.dumps(orjson.loads(value))
    except orjson.JSONDecodeError:
        return orjson.dumps(value.decode("utf-8", errors="backslashreplace"))


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
    handle: Callable[[bytes | None, bytes | None], bool],
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
                    if not handle(record.key, record.value):
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


async def consume(settings: Settings, topic: str, limit: int | None, idle_timeout: float) -> int:
    count = 0

    def show(key: bytes | None, value: bytes | None) -> bool:
        nonlocal count
        sys.stdout.buffer.write(as_json_line(value) + b"\n")
        sys.stdout.flush()
        count += 1
        return limit is None or count < limit

    if limit is not None and limit <= 0:
        return 0
    await read_records(settings, topic, show, idle_timeout)
    return count
