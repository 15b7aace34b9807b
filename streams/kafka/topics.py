"""Every topic the pipeline uses, declared once and created explicitly.

The broker runs with auto-creation off: a topic created implicitly by a producer
with another partition count makes faust tables fail with PartitionsMismatch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    NodeNotReadyError,
    TopicAlreadyExistsError,
    for_code,
)

from streams.errors import BrokerError, ConfigError
from streams.kafka.clients import admin
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Declaration:
    """One topic as the pipeline needs it: the admin client creates it, faust reads and
    writes it, both from here."""

    name: str
    partitions: int
    replicas: int
    config: dict[str, str]


def declarations(settings: Settings) -> list[Declaration]:
    """Input, every stage's topic, output and dead letters, without repeats, in flow order."""
    names = [*settings.stage_topics.values(), settings.topic_enriched, settings.topic_dlq]
    return [
        Declaration(
            name=name,
            partitions=settings.partitions_of(name),
            replicas=settings.replication_factor,
            config={"max.message.bytes": str(settings.max_message_bytes)},
        )
        for name in dict.fromkeys(names)
    ]


async def ensure_topics(settings: Settings, connect_seconds: float = 60.0) -> list[str]:
    """Create the missing pipeline topics; return the names that were created."""
    client = admin(settings)
    try:
        await asyncio.wait_for(client.start(), connect_seconds)
    except (KafkaConnectionError, TimeoutError) as exc:
        raise BrokerError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None
    try:
        existing = set(await _topic_names(client, connect_seconds))
        missing = [topic for topic in declarations(settings) if topic.name not in existing]
        if missing:
            response = await client.create_topics(
                [
                    NewTopic(
                        topic.name,
                        num_partitions=topic.partitions,
                        replication_factor=topic.replicas,
                        topic_configs=topic.config,
                    )
                    for topic in missing
                ]
            )
            for name, code, *message in response.topic_errors:
                error = for_code(code)
                if code and error is not TopicAlreadyExistsError:
                    raise BrokerError(f"cannot create topic {name}: {error.__name__} {message}")
            log.info("created topics %s", [topic.name for topic in missing])
            await wait_for_leaders(client, [topic.name for topic in missing], connect_seconds)
        fixed = [t for t in declarations(settings) if t.partitions != settings.partitions]
        for topic in fixed:
            if topic in missing:
                continue
            [described] = await client.describe_topics([topic.name])
            count = len(described["partitions"])
            if count != topic.partitions:
                raise BrokerError(
                    f"topic {topic.name} has {count} partitions but its stage needs "
                    f"{topic.partitions}: delete it or choose another topic prefix"
                )
        return [topic.name for topic in missing]
    finally:
        await client.close()


async def _topic_names(client: AIOKafkaAdminClient, wait_seconds: float) -> list[str]:
    """The broker's topics, once it lists itself among the brokers.

    A broker that has just opened its port answers metadata before it has registered
    (KRaft), with no broker in it; aiokafka then fails with NodeNotReadyError. A worker
    started together with its broker (docker compose, a broker restart) meets exactly that.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return list(await client.list_topics())
        except NodeNotReadyError:
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"Kafka answers but lists no broker after {wait_seconds:.0f} s"
                ) from None
            await asyncio.sleep(0.2)


async def wait_for_leaders(
    client: AIOKafkaAdminClient, names: list[str], wait_seconds: float
) -> None:
    """New partitions take a moment to elect a leader; clients used before then get errors."""
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        described = await client.describe_topics(names)
        if all(
            topic["partitions"] and all(p["leader"] >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return
        await asyncio.sleep(0.1)
    raise BrokerError(f"topics {', '.join(names)} have no leader after {wait_seconds:.0f} s")


async def partitions_of(settings: Settings, topic: str) -> list[int]:
    """The partition numbers of an existing topic; a missing topic is the user's error."""
    client = admin(settings)
    try:
        await client.start()
        [described] = await client.describe_topics([topic])
    except KafkaConnectionError as exc:
        raise BrokerError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None
    finally:
        await client.close()
    if described["error_code"] or not described["partitions"]:
        raise ConfigError(f"topic {topic} does not exist")
    return sorted(partition["partition"] for partition in described["partitions"])
