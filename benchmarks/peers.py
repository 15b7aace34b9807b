"""The peer table: one pass-through hop done by plain clients, Quix Streams and plain faust,
beside each of our stages alone and the whole pipeline, on the local broker.

Usage (from the repository root, broker running; `make bench-peers` installs the extras):
    python benchmarks/peers.py [--articles 10000] [--model-articles 400] [--only faust,dedup]

Backlog mode: every contender's input (4 partitions; the dedup topic has 1) is filled
first, then the contender starts, so startup and the producer are outside the measurement.
The rate is (N - 1) over the span between the first and the last output record's
broker-side timestamp (LogAppendTime): it needs no reader running beside the contender on
the two cores. The hop: JSON in, a field added, JSON out, keyed as it came. Each rate is
also given as a ratio to plain faust under the same guarantee, measured in the same run;
the machine is shared and noisy, so only ratios within one run mean much.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.pipeline_throughput import articles, messages, peak_rss_mib  # noqa: E402
from streams.kafka.clients import admin  # noqa: E402
from streams.kafka.io import Received, end_offsets, publish, read_records  # noqa: E402
from streams.kafka.topics import wait_for_leaders  # noqa: E402
from streams.settings import Settings, load_settings  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    PIPELINE_NAMES,
    WITHOUT_NER_MODELS,
    delete_topics,
    make_pipeline,
)

PARTITIONS = 4
GUARANTEES = ("at_least_once", "exactly_once")
BROKER_TIME = {"message.timestamp.type": "LogAppendTime"}


@dataclass(frozen=True, slots=True)
class Contender:
    name: str
    guarantee: str
    models: bool = False
    """Runs the shipped entity models: measured on the smaller article count."""
    workers: int = 1
    """Ours: this many worker processes of the same stages, started together."""


@dataclass(frozen=True, slots=True)
class Result:
    contender: Contender
    articles: int
    rate: float
    rss_mib: float


# --- the peers: each is one process reading `source` and writing `target` ---------------


def aiokafka_hop(bootstrap: str, source: str, target: str, group: str, guarantee: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def run() -> None:
        transactional = guarantee == "exactly_once"
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            linger_ms=5,
            transactional_id=f"{group}-tx" if transactional else None,
        )
        await consumer.start()
        await producer.start()
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            if not batches:
                continue
            if transactional:
                await producer.begin_transaction()
            sent = []
            for records in batches.values():
                for record in records:
                    value = orjson.loads(record.value)
                    value["hop"] = True
                    sent.append(await producer.send(target, orjson.dumps(value), key=record.key))
            offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
            if transactional:
                await producer.send_offsets_to_transaction(offsets, group)
                await producer.commit_transaction()
            else:
                await asyncio.gather(*sent)
                await consumer.commit(offsets)

    asyncio.run(run())


def confluent_hop(bootstrap: str, source: str, target: str, group: str, guarantee: str) -> None:
    from confluent_kafka import Consumer, Producer

    transactional = guarantee == "exactly_once"
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    settings = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    if transactional:
        settings["transactional.id"] = f"{group}-tx"
    producer = Producer(settings)
    if transactional:
        producer.init_transactions()
    consumer.subscribe([source])
    while True:
        batch = [record for record in consumer.consume(2000, timeout=1.0) if not record.error()]
        if not batch:
            continue
        if transactional:
            producer.begin_transaction()
        for record in batch:
            value = orjson.loads(record.value())
            value["hop"] = True
            producer.produce(target, orjson.dumps(value), key=record.key())
            producer.poll(0)
        if transactional:
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
            )
            producer.commit_transaction()
        else:
            producer.flush()
            consumer.commit(asynchronous=False)


def quix_hop(bootstrap: str, source: str, target: str, group: str, guarantee: str) -> None:
    from quixstreams import Application

    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once" if guarantee == "exactly_once" else "at-least-once",
        auto_create_topics=False,
        state_dir=tempfile.mkdtemp(prefix="quix-"),
    )
    frame = app.dataframe(app.topic(source, value_deserializer="json"))
    frame = frame.apply(lambda value: {**value, "hop": True})
    frame.to_topic(app.topic(target, value_serializer="json"))
    app.run()


def faust_hop(bootstrap: str, source: str, target: str, group: str, guarantee: str) -> None:
    import faust

    app = faust.App(
        group,
        broker=f"kafka://{bootstrap}",
        processing_guarantee=guarantee,
        web_enabled=False,
        store="memory://",
        topic_partitions=PARTITIONS,
        consumer_auto_offset_reset="earliest",
        datadir=tempfile.mkdtemp(prefix="faust-"),
    )
    inbox = app.topic(source, value_serializer="raw", key_serializer="raw")
    outbox = app.topic(target, value_serializer="raw", key_serializer="raw")

    @app.agent(inbox)
    async def hop(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            value = orjson.loads(event.value)
            value["hop"] = True
            await outbox.send(key=event.key, value=orjson.dumps(value))

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


HOPS: dict[str, Callable[[str, str, str, str, str], None]] = {
    "aiokafka": aiokafka_hop,
    "confluent-kafka": confluent_hop,
    "quixstreams": quix_hop,
    "faust": faust_hop,
}


# --- running and measuring ------------------------------------------------------------------


async def create_topics(settings: Settings, source: str, target: str) -> None:
    client = admin(settings)
    await client.start()
    try:
        await client.create_topics(
            [
                NewTopic(source, PARTITIONS, 1),
                NewTopic(target, PARTITIONS, 1, topic_configs=BROKER_TIME),
            ]
        )
        await wait_for_leaders(client, [source, target], 60)
    finally:
        await client.close()


async def stamp_on_arrival(settings: Settings, topic: str) -> None:
    """Our output topic, made by the pipeline, gets broker-side timestamps for the count
    (AlterConfigs replaces the topic's settings: the pipeline's size limit goes in again).
    The broker applies a change a moment after it answers; until then records keep the
    producer's timestamp, the input's, and a rate read from them is the producer's."""
    config = {**BROKER_TIME, "max.message.bytes": str(settings.max_message_bytes)}
    resource = ConfigResource(ConfigResourceType.TOPIC, topic)
    client = admin(settings)
    await client.start()
    try:
        await client.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, config)])
        for _ in range(100):
            [response] = await client.describe_configs([resource])
            [(*_, entries)] = response.resources
            if ("message.timestamp.type", "LogAppendTime") in [e[:2] for e in entries]:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{topic} did not take broker-side timestamps")
    finally:
        await client.close()


def arrival_times(settings: Settings, topic: str, count: int, timeout: float) -> list[int]:
    """The broker timestamps of the first `count` records of `topic`, once all are there."""
    deadline = time.monotonic() + timeout
    while True:
        if sum(asyncio.run(end_offsets(settings, topic)).values()) >= count:
            stamps = timestamps(settings, topic, count)
            if len(stamps) >= count:
                return sorted(stamps)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{topic}: fewer than {count} records after {timeout:.0f} s")
        time.sleep(0.5)


def timestamps(settings: Settings, topic: str, count: int) -> list[int]:
    stamps: list[int] = []

    def keep(record: Received) -> bool:
        stamps.append(record.timestamp)
        return len(stamps) < count

    asyncio.run(read_records(settings, topic, keep, idle_timeout=2))
    return stamps


def rate_of(stamps: list[int], began: int | None = None) -> float:
    """Records per second from the first output (or `began`, when the first hop of a
    pipeline wrote its first record) to the last."""
    first = stamps[0] if began is None else began
    span = (stamps[-1] - first) / 1000
    return (len(stamps) - 1) / span if span > 0 else float("inf")


def stop(process: subprocess.Popen[bytes]) -> float:
    rss = peak_rss_mib(process.pid)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return rss


def run_peer(settings: Settings, contender: Contender, batch: list[dict[str, str]]) -> Result:
    run = f"peer{uuid.uuid4().hex[:8]}"
    PIPELINE_NAMES.append(run)
    source, target = f"{run}.in", f"{run}.out"
    asyncio.run(create_topics(settings, source, target))
    asyncio.run(publish(settings, source, messages(batch, None, source)))
    process = subprocess.Popen(
        [sys.executable, __file__, "hop", contender.name, source, target, run, contender.guarantee],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        stamps = arrival_times(settings, target, len(batch), timeout=600)
    finally:
        rss = stop(process)
    return Result(contender, len(batch), rate_of(stamps), rss)


STAGES = {
    "validate": "validate",
    "language": "language",
    "entities": "entities",
    "dedup": "dedup",
    "pipeline": None,
    "pipeline+models": None,
}
"""Our contenders: a stage alone (its input filled as the stage before writes it), or the
whole pipeline in one worker, without entity models or with the shipped ones."""


def run_ours(settings: Settings, contender: Contender, batch: list[dict[str, str]]) -> Result:
    stage = STAGES[contender.name]
    extra = {} if contender.models else WITHOUT_NER_MODELS
    pipeline = make_pipeline(
        settings,
        Path(tempfile.mkdtemp(prefix="streams-peers-")),
        STREAMS_PARTITIONS=str(PARTITIONS),
        STREAMS_PROCESSING_GUARANTEE=contender.guarantee,
        **extra,
    )
    ours = pipeline.settings
    source = ours.stage_topics[stage] if stage else ours.topic_raw
    flow = [*ours.stage_topics.values(), ours.topic_enriched]
    first_hop = flow[flow.index(source) + 1]
    target = flow[-1] if stage is None else first_hop
    # A pipeline's last stage may start late and then drain its backlog in a burst: the
    # count runs from the first record its first stage wrote.
    for topic in {first_hop, target}:
        asyncio.run(stamp_on_arrival(ours, topic))
    raw = source == ours.topic_raw
    pipeline.produce(messages(batch, None if raw else stage, source), topic=source)
    workers = pipeline.start_workers(*[stage or ""] * contender.workers)
    try:
        stamps = arrival_times(ours, target, len(batch), timeout=1800)
        began = None if first_hop == target else min(arrival_times(ours, first_hop, len(batch), 60))
        rss = max(peak_rss_mib(worker.pid) for worker in workers)
    finally:
        pipeline.stop_all()
    return Result(contender, len(batch), rate_of(stamps, began), rss)


def tagger_bound(batch: list[dict[str, str]]) -> float:
    """Articles per second of spaCy's own `nlp.pipe` with the shipped English pipeline, in
    this process: the bound for the entities stage on these articles."""
    from streams.stages.entities.tagger import EntityTagger

    nlp = EntityTagger().pipeline("en")
    assert nlp is not None
    bodies = [article["body"] for article in batch]
    started = time.perf_counter()
    for _ in nlp.pipe(bodies):
        pass
    return len(bodies) / (time.perf_counter() - started)


def contenders(only: set[str] | None) -> list[Contender]:
    every = [
        *(Contender(name, guarantee) for name in HOPS for guarantee in GUARANTEES),
        *(
            Contender(name, guarantee)
            for name in ("validate", "language", "dedup", "pipeline")
            for guarantee in GUARANTEES
        ),
        Contender("entities", "exactly_once", models=True),
        *(Contender("pipeline+models", guarantee, models=True) for guarantee in GUARANTEES),
        Contender("pipeline+models", "exactly_once", models=True, workers=2),
    ]
    return [c for c in every if only is None or c.name in only]


def table(results: list[Result], bound: float | None) -> str:
    faust = {r.contender.guarantee: r.rate for r in results if r.contender.name == "faust"}
    lines = [
        "| contender | guarantee | articles | rate /s | ratio to plain faust | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        base = faust.get(result.contender.guarantee)
        ratio = f"{result.rate / base:.2f}" if base else "-"
        workers = f", {result.contender.workers} workers" if result.contender.workers > 1 else ""
        lines.append(
            f"| {result.contender.name}{workers} | {result.contender.guarantee} "
            f"| {result.articles:,} "
            f"| {result.rate:,.0f} | {ratio} | {result.rss_mib:,.0f} MiB |"
        )
    if bound is not None:
        lines.append(f"| spaCy `nlp.pipe`, English, in process | - | - | {bound:,.1f} | - | - |")
        for result in results:
            if result.contender.models:
                lines.append(
                    f"| {result.contender.name} ({result.contender.guarantee}) "
                    f"/ the tagger's bound | | | {result.rate / bound:.2f} | | |"
                )
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["hop"]:
        name, source, target, group, guarantee = sys.argv[2:7]
        HOPS[name](load_settings().kafka_bootstrap, source, target, group, guarantee)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10000)
    parser.add_argument("--model-articles", type=int, default=400)
    parser.add_argument("--only", type=lambda v: set(v.split(",")), default=None)
    parser.add_argument("--data", type=Path, default=REPO / "../shared/data/eval/news")
    args = parser.parse_args()

    settings = load_settings()
    plain = articles(args.data, args.articles)
    modelled = plain[: args.model_articles]
    print(
        f"BBC articles, median body {statistics.median(len(a['body']) for a in plain):,.0f} "
        "characters",
        file=sys.stderr,
    )
    results = []
    try:
        for contender in contenders(args.only):
            batch = modelled if contender.models else plain
            runner = run_peer if contender.name in HOPS else run_ours
            result = runner(settings, contender, batch)
            print(f"{contender.name} {contender.guarantee}: {result.rate:,.0f}/s", file=sys.stderr)
            results.append(result)
    finally:
        asyncio.run(delete_topics(settings, PIPELINE_NAMES))
    models = any(c.models for c in contenders(args.only))
    print(table(results, tagger_bound(modelled) if models else None))


if __name__ == "__main__":
    main()
