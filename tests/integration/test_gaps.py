"""The gap check the consumer relies on, against a topic the broker wrote markers into.

A commit may step over a gap in the offsets an agent finished only when the broker
holds no committed record there: commit markers and aborted transactions are such gaps.
"""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from streams.kafka.clients import admin, client_options, reader
from streams.kafka.offsets import first_committed_record
from streams.settings import Settings


async def transactional_log(settings: Settings, topic: str) -> None:
    """Offsets 0-1 committed, 2 marker, 3-4 aborted, 5 marker, 6 committed, 7 marker."""
    client = admin(settings)
    await client.start()
    try:
        await client.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await client.close()
    producer = AIOKafkaProducer(**client_options(settings), transactional_id=topic)
    await producer.start()
    try:
        for values, commit in (([b"a", b"b"], True), ([b"x", b"y"], False), ([b"c"], True)):
            await producer.begin_transaction()
            for value in values:
                await producer.send_and_wait(topic, value)
            if commit:
                await producer.commit_transaction()
            else:
                await producer.abort_transaction()
    finally:
        await producer.stop()


async def first_records(settings: Settings, topic: str) -> list[int | None]:
    await transactional_log(settings, topic)
    consumer = reader(settings)
    await consumer.start()
    tp = TopicPartition(topic, 0)
    try:
        return [
            await first_committed_record(consumer, tp, first, after)
            for first, after in ((2, 3), (2, 6), (3, 5), (2, 7), (0, 1), (1, 2))
        ]
    finally:
        await consumer.stop()


def test_markers_and_aborted_records_are_gaps_and_committed_records_are_not(
    kafka: Settings,
) -> None:
    found = asyncio.run(first_records(kafka, f"gaps-{uuid.uuid4().hex[:8]}"))
    assert found == [None, None, None, 6, 0, 1]
