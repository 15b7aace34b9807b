"""`streams status`: each stage's throughput, lag, dead letters and duplicate rate.

Counts come from Kafka (topic offsets, the group's committed offsets, the dead-letter
topic itself), so they are exact and survive worker restarts; the duplicate split comes
from the workers' metrics endpoints, the only place verdicts are counted.
"""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka.clients import reader
from streams.kafka.offsets import OffsetReader, Progress
from streams.kafka.topics import partitions_of
from streams.settings import Settings
from streams.stages import NAMES

Snapshot = dict[str, Any]


class DeadLetterCounter:
    """Counts dead letters by stage and code, reading each one once however often it is asked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer: AIOKafkaConsumer = reader(settings)
        self.by_stage: Counter[str] = Counter()
        self.by_code: Counter[str] = Counter()

    async def start(self) -> None:
        await self.consumer.start()
        topic = self.settings.topic_dlq
        partitions = [TopicPartition(topic, n) for n in await partitions_of(self.settings, topic)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def catch_up(self) -> None:
        """Read until every partition's position reaches the end seen when the call began."""
        partitions = self.consumer.assignment()
        ends = await self.consumer.end_offsets(list(partitions))
        while [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]:
            batches = await self.consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    self._count(record.value)

    def _count(self, value: bytes | None) -> None:
        try:
            letter = orjson.loads(value or b"")
            stage, code = str(letter["stage"]), str(letter["error_code"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            stage, code = "unknown", "unreadable"
        self.by_stage[stage] += 1
        self.by_code[code] += 1


def scrape_dedup(urls: Sequence[str]) -> tuple[Counter[str], list[str]]:
    """Dedup verdicts summed over the workers' metrics endpoints, and the ones not answering."""
    verdicts: Counter[str] = Counter()
    unreachable = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - operator's URL
                text = response.read().decode()
        except OSError:
            unreachable.append(url)
            continue
        for family in text_string_to_metric_families(text):
            if family.name == "streams_dedup":
                for sample in family.samples:
                    if sample.name == "streams_dedup_total":
                        verdicts[sample.labels["status"]] += int(sample.value)
    return verdicts, unreachable


def stage_rows(
    settings: Settings, progress: list[Progress], earlier: dict[str, int], seconds: float
) -> dict[str, dict[str, Any]]:
    """Messages in, processed and waiting per stage, with the rate since the earlier sample."""
    rows = {}
    for stage in NAMES:
        topic = settings.stage_topics[stage]
        parts = [item for item in progress if item.topic == topic]
        messages = sum(item.messages for item in parts)
        lag = sum(item.lag for item in parts)
        done = messages - lag
        rate = (done - earlier[stage]) / seconds if stage in earlier and seconds > 0 else None
        rows[stage] = {
            "topic": topic,
            "messages": messages,
            "processed": done,
            "lag": lag,
            "per_second": None if rate is None else round(rate, 2),
        }
    return rows


async def snapshot(
    settings: Settings,
    offsets: OffsetReader,
    dead: DeadLetterCounter,
    metrics_urls: Sequence[str],
    earlier: Snapshot | None,
) -> Snapshot:
    """Everything `streams status` shows, at one moment."""
    topics = [settings.stage_topics[stage] for stage in NAMES] + [settings.topic_enriched]
    progress = await offsets.progress(settings.app_id, topics)
    await dead.catch_up()
    verdicts, unreachable = await asyncio.to_thread(scrape_dedup, metrics_urls)
    now = time.monotonic()
    before = {} if earlier is None else {k: v["processed"] for k, v in earlier["stages"].items()}
    seconds = 0.0 if earlier is None else now - earlier["monotonic"]
    judged = sum(verdicts.values())
    return {
        "monotonic": now,
        "group": settings.app_id,
        "stages": stage_rows(settings, progress, before, seconds),
        "output": {
            "topic": settings.topic_enriched,
            "messages": sum(p.messages for p in progress if p.topic == settings.topic_enriched),
        },
        "dead_letters": {
            "topic": settings.topic_dlq,
            "total": sum(dead.by_code.values()),
            "by_stage": dict(sorted(dead.by_stage.items())),
            "by_code": dict(sorted(dead.by_code.items())),
        },
        "dedup": {
            "verdicts": dict(sorted(verdicts.items())),
            "duplicate_rate": None
            if not judged
            else round((judged - verdicts["unique"]) / judged, 4),
            "unreachable_metrics": unreachable,
        },
    }


def render(snap: Snapshot) -> str:
    """The snapshot as a small table for a terminal."""
    lines = [
        f"streams status · group {snap['group']} · {time.strftime('%H:%M:%S')}",
        "",
        f"{'stage':<10}{'topic':<28}{'in':>10}{'done':>10}{'lag':>8}{'msg/s':>9}{'dead':>7}",
    ]
    dead = snap["dead_letters"]
    for stage, row in snap["stages"].items():
        rate = "-" if row["per_second"] is None else f"{row['per_second']:.1f}"
        lines.append(
            f"{stage:<10}{row['topic']:<28}{row['messages']:>10}{row['processed']:>10}"
            f"{row['lag']:>8}{rate:>9}{dead['by_stage'].get(stage, 0):>7}"
        )
    output = snap["output"]
    lines.append(f"{'output':<10}{output['topic']:<28}{output['messages']:>10}")
    codes = ", ".join(f"{code} {n}" for code, n in dead["by_code"].items()) or "none"
    lines += ["", f"dead letters: {dead['total']} ({codes})"]
    dedup = snap["dedup"]
    if dedup["duplicate_rate"] is None:
        lines.append("duplicates: no verdicts reported by the metrics endpoints yet")
    else:
        split = ", ".join(f"{status} {n}" for status, n in dedup["verdicts"].items())
        lines.append(f"duplicates: {dedup['duplicate_rate']:.1%} ({split})")
    if dedup["unreachable_metrics"]:
        lines.append(f"not answering: {', '.join(dedup['unreachable_metrics'])}")
    return "\n".join(lines)


async def show_status(
    settings: Settings, metrics_urls: Sequence[str], once: bool, as_json: bool, interval: float
) -> None:
    """One snapshot (rates over `interval`), or a live view redrawn every `interval` seconds."""
    dead = DeadLetterCounter(settings)
    async with OffsetReader(settings) as offsets:
        await dead.start()
        try:
            earlier = await snapshot(settings, offsets, dead, metrics_urls, None)
            while True:
                await asyncio.sleep(interval)
                current = await snapshot(settings, offsets, dead, metrics_urls, earlier)
                if as_json:
                    public = {k: v for k, v in current.items() if k != "monotonic"}
                    sys.stdout.buffer.write(orjson.dumps(public) + b"\n")
                else:
                    sys.stdout.write(("" if once else "\x1b[H\x1b[2J") + render(current) + "\n")
                sys.stdout.flush()
                if once:
                    return
                earlier = current
        finally:
            await dead.stop()
