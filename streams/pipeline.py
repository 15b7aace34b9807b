"""The stages in order, and the thin faust agent that runs each one.

An agent only reads, calls, sends and counts. Its single `except Exception` is
where a message becomes a dead letter: faust acknowledges an event even when the
agent raises and then the agent dies, so nothing may escape the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
import orjson

from streams.consumer import LedgerConsumer
from streams.dedup_index import DedupIndex
from streams.dlq import reject
from streams.entities import EntityTagger
from streams.errors import ConfigError
from streams.langid import LanguageIdentifier
from streams.metrics import Metrics
from streams.records import Article, InFlight, RawMessage, Source, rfc3339
from streams.settings import Settings
from streams.stages.dedup import TABLES as DEDUP_TABLES
from streams.stages.dedup import DedupStage
from streams.stages.entities import EntitiesStage
from streams.stages.language import LanguageStage
from streams.stages.validate import admit

log = logging.getLogger(__name__)


def _ignore(metrics: Metrics, article: Article) -> None:
    """Stages with nothing to count beyond messages and time."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the pipeline as the agent sees it."""

    name: str
    step: Callable[[RawMessage], InFlight]
    """Pure and synchronous: the unit-testable part."""
    observe: Callable[[Metrics, Article], None] = _ignore
    """Counts what the step found (languages, entities, verdicts)."""


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
        return Stage(name, _enveloped(dedup.process), dedup.observe)
    raise ConfigError(f"unknown stage {name!r}; the stages are {', '.join(PIPELINE)}")


def dedup_index(app: faust.App, settings: Settings) -> DedupIndex:
    """The dedup state in RocksDB tables with changelogs, so a moved worker recovers it."""
    partitions = settings.partitions_of(settings.stage_topics["dedup"])
    tables: dict[str, Any] = {
        name: app.Table(f"dedup-{name}", partitions=partitions, key_type=str)
        for name in DEDUP_TABLES
    }
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
    return orjson.dumps(flight.article)


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

    async def run(stream: faust.StreamT[bytes]) -> None:
        consumer = cast(LedgerConsumer, stream.app.consumer)
        async for event in stream.events():
            raw = event.message
            if not consumer.first_time(raw):
                continue
            timestamp_ms = round(raw.timestamp * 1000)
            message = RawMessage(
                key=raw.key,
                value=raw.value,
                source=Source(raw.topic, raw.partition, raw.offset, timestamp_ms),
            )
            started = time.perf_counter()
            try:
                flight = stage.step(message)
                article_id = str(flight.article["id"]).encode()
                value = finish(flight, timestamp_ms) if final else flight.to_json()
                await target.send(key=article_id, value=value, timestamp=raw.timestamp)
            except Exception as error:  # noqa: BLE001 - the one place a message becomes a dead letter
                letter = reject(
                    stage=stage.name,
                    error=error,
                    first_stage=first,
                    message=message,
                    max_bytes=settings.max_message_bytes,
                )
                log.warning(
                    "%s: dead letter %s for %s[%d]@%d: %s",
                    stage.name,
                    letter.error_code,
                    letter.source.topic,
                    letter.source.partition,
                    letter.source.offset,
                    letter.message,
                )
                await dlq.send(key=raw.key, value=letter.to_json())
                metrics.dead_letters.labels(stage=stage.name, code=letter.error_code).inc()
                failed.inc()
            else:
                stage.observe(metrics, flight.article)
                succeeded.inc()
                if final:
                    ingested = flight.source.timestamp / 1000
                    metrics.end_to_end_seconds.observe(max(0.0, time.time() - ingested))
            stage_seconds.observe(time.perf_counter() - started)
            consumer.finished(raw)

    return run
