"""The stages in order, and the thin faust agent that runs each one.

An agent only reads, calls, sends and counts. Its single `except Exception` is
where a message becomes a dead letter: faust acknowledges an event even when the
agent raises and then the agent dies, so nothing may escape the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import faust
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from faust.types import Message

from streams import codec
from streams.consumer import LedgerConsumer
from streams.dedup_index import DedupIndex
from streams.dlq import Letter, minimal_letter, reject
from streams.entities import EntityTagger
from streams.errors import ConfigError, DeliveryFailed, TooLarge
from streams.langid import LanguageIdentifier
from streams.metrics import Metrics
from streams.records import Article, InFlight, RawMessage, Source, rfc3339, send_seconds
from streams.settings import Settings
from streams.stages.dedup import TABLES as DEDUP_TABLES
from streams.stages.dedup import DedupStage
from streams.stages.entities import EntitiesStage
from streams.stages.language import LanguageStage
from streams.stages.validate import admit
from streams.transactions import SourcePartitionTransactions

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]

_stopping: set[asyncio.Future[None]] = set()
"""The worker's crash once under way, held so it is not garbage-collected before it runs."""


def _ignore(metrics: Metrics, article: Article) -> None:
    """Stages with nothing to count beyond messages and time."""


def _nothing() -> None:
    """Stages that keep no state."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the pipeline as the agent sees it."""

    name: str
    step: Callable[[RawMessage], InFlight]
    """Pure and synchronous: the unit-testable part."""
    observe: Callable[[Metrics, Article], None] = _ignore
    """Counts what the step found (languages, entities, verdicts)."""
    keep: Callable[[], None] = _nothing
    """State changes of the last step, made once its output is sent: a dead letter leaves none."""


def _enveloped(process: Callable[[InFlight], InFlight]) -> Callable[[RawMessage], InFlight]:
    """Adapt an article step to the envelope that stages after the first receive."""

    def step(message: RawMessage) -> InFlight:
        return process(InFlight.from_json(message.value or b""))

    return step


PIPELINE = ("validate", "language", "entities", "dedup")
"""The stages in flow order; the last one writes the enriched record."""


def build_stage(name: str, settings: Settings, app: faust.App) -> Stage:
    """One stage with its models loaded, once per worker, before any message arrives."""
    if name == "validate":
        return Stage(name, lambda message: admit(message, settings.max_body_bytes))
    if name == "language":
        language = LanguageStage(LanguageIdentifier(settings.languages or None))
        return Stage(name, _enveloped(language.process), language.observe)
    if name == "entities":
        entities = EntitiesStage(EntityTagger(settings.entity_pipelines))
        return Stage(name, _enveloped(entities.process), entities.observe)
    if name == "dedup":
        dedup = DedupStage(dedup_index(app, settings), settings.dedup_threshold)
        return Stage(name, _enveloped(dedup.process), dedup.observe, dedup.keep)
    raise ConfigError(f"unknown stage {name!r}; the stages are {', '.join(PIPELINE)}")


def dedup_index(app: faust.App, settings: Settings) -> DedupIndex:
    """The dedup state in RocksDB tables with changelogs, so a moved worker recovers it."""
    partitions = settings.partitions_of(settings.stage_topics["dedup"])
    tables: dict[str, Any] = {
        name: app.Table(f"dedup-{name}", partitions=partitions, key_type=str)
        for name in DEDUP_TABLES
    }
    sources = cast(type[SourcePartitionTransactions], app.transport.TransactionManager)
    for table in tables.values():
        sources.table_sources[table.changelog_topic.get_topic_name()] = settings.stage_topics[
            "dedup"
        ]
    retention = settings.dedup_retention_seconds
    return DedupIndex(
        **tables,
        threshold=settings.dedup_threshold,
        retention_seconds=retention,
        bucket_seconds=min(3600.0, retention / 24),
    )


def finish(flight: InFlight, timestamp_ms: int) -> bytes:
    """The enriched record, stamped with the time of the message the last stage read.

    Every stage sends with the timestamp of the message it read, so that time is the
    input's own: a redelivered or replayed article gives a byte-identical record.
    """
    flight.article["pipeline"]["completed_at"] = rfc3339(timestamp_ms)
    return codec.dumps(flight.article)


def register(app: faust.App, settings: Settings, metrics: Metrics, names: Sequence[str]) -> None:
    """Add one agent per named stage; each sends to the next stage's topic, the last to output."""
    topics = [_topic(app, settings, settings.stage_topics[name]) for name in PIPELINE]
    topics.append(_topic(app, settings, settings.topic_enriched))
    dlq = _topic(app, settings, settings.topic_dlq)
    for index, name in enumerate(PIPELINE):
        if name not in names:
            continue
        agent = _agent(
            build_stage(name, settings, app),
            first=index == 0,
            final=index == len(PIPELINE) - 1,
            target=topics[index + 1],
            dlq=dlq,
            settings=settings,
            metrics=metrics,
        )
        app.agent(topics[index], name=f"{settings.app_id}.{name}")(agent)


def _topic(app: faust.App, settings: Settings, name: str) -> faust.TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions_of(name),
        replicas=settings.replication_factor,
        config={"max.message.bytes": str(settings.max_message_bytes)},
    )


async def deliver(
    topic: faust.TopicT,
    *,
    key: bytes | None,
    value: bytes,
    timestamp_ms: int,
    headers: Headers,
) -> Awaitable[Any]:
    """Hand one record to the producer; its future resolves once the broker has it.

    A record over the size limit is the article's fault (TooLarge, a dead letter); any
    other refusal is the broker's (DeliveryFailed), and must never cost an article.
    """
    try:
        return await topic.send(
            key=key, value=value, timestamp=send_seconds(timestamp_ms), headers=headers
        )
    except (KafkaError, ProducerSendError) as error:
        cause = error.__cause__ if isinstance(error, ProducerSendError) else error
        if isinstance(cause, MessageSizeTooLargeError):
            raise TooLarge(
                f"The record for {topic.get_topic_name()} has {len(value) + len(key or b''):,} "
                "bytes, over the message size limit."
            ) from error
        raise DeliveryFailed(
            f"Kafka did not take a record for {topic.get_topic_name()}: {cause!r}"
        ) from error


async def deliver_letter(dlq: faust.TopicT, letter: Letter, headers: Headers) -> Awaitable[Any]:
    """Send a dead letter; one that still does not fit goes as a minimal letter instead."""
    try:
        return await deliver(
            dlq,
            key=letter.key,
            value=letter.value,
            timestamp_ms=letter.record.source.timestamp,
            headers=headers,
        )
    except TooLarge:
        minimal = minimal_letter(letter)
        return await deliver(
            dlq,
            key=None,
            value=minimal.value,
            timestamp_ms=minimal.record.source.timestamp,
            headers=[],
        )


def _agent(
    stage: Stage,
    *,
    first: bool,
    final: bool,
    target: faust.TopicT,
    dlq: faust.TopicT,
    settings: Settings,
    metrics: Metrics,
) -> Callable[[faust.StreamT[bytes]], Awaitable[None]]:
    stage_seconds = metrics.stage_seconds.labels(stage=stage.name)
    succeeded = metrics.messages.labels(stage=stage.name, outcome="ok")
    failed = metrics.messages.labels(stage=stage.name, outcome="dead_letter")
    transactional = settings.processing_guarantee == "exactly_once"

    async def handle(raw: Message) -> Awaitable[Any]:
        """Send the message's output, or its dead letter; return the send's future."""
        timestamp_ms = round(raw.timestamp * 1000)
        message = RawMessage(
            key=raw.key,
            value=raw.value,
            source=Source(raw.topic, raw.partition, raw.offset, timestamp_ms),
        )
        headers = cast(Headers, list(raw.headers or ()))
        try:
            flight = stage.step(message)
            article_id = str(flight.article["id"]).encode()
            value = finish(flight, timestamp_ms) if final else flight.to_json()
            sent = await deliver(
                target, key=article_id, value=value, timestamp_ms=timestamp_ms, headers=headers
            )
            stage.keep()
        except DeliveryFailed:
            raise
        except Exception as error:  # noqa: BLE001 - the one place a message becomes a dead letter
            letter = reject(
                stage=stage.name,
                error=error,
                first_stage=first,
                message=message,
                max_bytes=settings.max_message_bytes,
            )
            record = letter.record
            log.warning(
                "%s: dead letter %s for %s[%d]@%d: %s",
                stage.name,
                record.error_code,
                record.source.topic,
                record.source.partition,
                record.source.offset,
                record.message,
            )
            sent = await deliver_letter(dlq, letter, headers)
            metrics.dead_letters.labels(stage=stage.name, code=record.error_code).inc()
            failed.inc()
        else:
            stage.observe(metrics, flight.article)
            succeeded.inc()
            if final:
                ingested = flight.source.timestamp / 1000
                metrics.end_to_end_seconds.observe(max(0.0, time.time() - ingested))
        return sent

    async def run(stream: faust.StreamT[bytes]) -> None:
        app = stream.app
        consumer = cast(LedgerConsumer, app.consumer)

        def crash(failure: BaseException) -> None:
            """Stop the worker: it, or whoever gets its partitions, goes on from the last commit.

            The failed message is never marked finished, so no commit passes it.
            """
            if app.crash_reason is not None or _stopping:
                return
            log.error("%s: %s; stopping to start again from the last commit", stage.name, failure)
            stopping = asyncio.ensure_future(app.crash(failure))
            _stopping.add(stopping)

        async for event in stream.events():
            raw = event.message
            if not consumer.first_time(raw):
                continue
            started = time.perf_counter()
            try:
                sent = await handle(raw)
            except DeliveryFailed as failure:
                crash(failure)
                return
            stage_seconds.observe(time.perf_counter() - started)
            # Under exactly_once the open transaction holds the send, so the message is
            # finished now; otherwise only once the broker has the record.
            cast(asyncio.Future[Any], sent).add_done_callback(
                partial(_on_delivery, consumer, raw, crash, finish=not transactional)
            )
            if transactional:
                consumer.finished(raw)

    return run


def _on_delivery(
    consumer: LedgerConsumer,
    raw: Message,
    crash: Callable[[BaseException], None],
    sent: asyncio.Future[Any],
    *,
    finish: bool,
) -> None:
    """A record the broker did not take stops the worker; one it took may finish its message.

    Under exactly_once a failed send means the transaction is lost (a fenced or timed-out
    producer): going on would only pile work onto it.
    """
    if sent.cancelled():
        crash(DeliveryFailed("a send was cancelled"))
    elif (error := sent.exception()) is not None:
        crash(DeliveryFailed(f"Kafka did not acknowledge a record: {error!r}"))
    elif finish:
        consumer.finished(raw)
