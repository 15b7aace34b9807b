"""Fixtures that run the real broker and real workers, each test module on its own topics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka import local_broker
from streams.kafka.clients import admin, producer
from streams.kafka.io import Headers, Received, end_offsets, publish, read_records
from streams.kafka.offsets import OffsetReader
from streams.kafka.topics import ensure_topics
from streams.settings import Settings, load_settings

READY = b"[^Worker]: Ready"
Record = tuple[bytes | None, bytes | None]
WITHOUT_NER_MODELS = {"STREAMS_ENTITY_PIPELINES": ""}
"""For tests about delivery, not tagging: the entities stage runs but loads no model."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["exactly_once", "at_least_once"])
def guarantee(request: pytest.FixtureRequest) -> str:
    """Both guarantees: exactly_once (the default) must double nothing."""
    return str(request.param)


PIPELINE_NAMES: list[str] = []
"""Every pipeline this session made: its topics start with its name, faust's with its app id."""


@pytest.fixture(scope="session")
def kafka() -> Iterator[Settings]:
    """The broker every test talks to: the local one, started if needed, or the configured one.

    A broker that cannot be reached fails the run; it is never a silent skip. The topics the
    session made are deleted at its end: a broker left with thousands of partitions takes
    minutes to start again.
    """
    settings = load_settings()
    local_broker.start(settings)
    yield settings
    asyncio.run(delete_topics(settings, PIPELINE_NAMES))


async def delete_topics(settings: Settings, names: list[str]) -> None:
    prefixes = tuple(names) + tuple(f"streams-{name}" for name in names)
    client = admin(settings)
    await client.start()
    try:
        doomed = [topic for topic in await client.list_topics() if topic.startswith(prefixes)]
        for start in range(0, len(doomed), 200):
            await client.delete_topics(doomed[start : start + 200])
    finally:
        await client.close()


@dataclass
class Pipeline:
    """One isolated pipeline: its own topics, consumer group, state and ports."""

    env: dict[str, str]
    root: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    metrics_ports: list[int] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    def start_worker(
        self, stages: str | None = None, data_dir: Path | None = None, **env: str
    ) -> subprocess.Popen[bytes]:
        """Start `streams worker` and wait until faust says it is ready.

        Each worker gets a fresh data dir unless `data_dir` names one, as a restarted
        worker with a persistent volume has.
        """
        index = self._spawn(stages, data_dir, env)
        self._wait_ready(index)
        return self.workers[index]

    def start_workers(self, *stages: str) -> list[subprocess.Popen[bytes]]:
        """Start one worker per entry of `stages` at once, as a deployment does, and wait
        until all of them are ready."""
        indexes = [self._spawn(names, None, {}) for names in stages]
        for index in indexes:
            self._wait_ready(index)
        return [self.workers[index] for index in indexes]

    def _spawn(self, stages: str | None, data_dir: Path | None, env: dict[str, str]) -> int:
        index = len(self.workers)
        self.metrics_ports.append(free_port())
        worker_env = {
            **self.env,
            "STREAMS_METRICS_PORT": str(self.metrics_ports[-1]),
            "STREAMS_DATA_DIR": str(data_dir or self.root / f"data-{index}"),
            **env,
        }
        argv = [sys.executable, "-m", "streams", "worker"]
        if stages:
            argv += ["--stages", stages]
        with self.log(index).open("wb") as out:
            process = subprocess.Popen(argv, env=worker_env, stdout=out, stderr=subprocess.STDOUT)
        self.workers.append(process)
        return index

    def _wait_ready(self, index: int) -> None:
        process, log = self.workers[index], self.log(index)
        deadline = time.monotonic() + 120
        while READY not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"worker {index} did not become ready:\n{tail}")
            time.sleep(0.2)

    def log(self, index: int) -> Path:
        """The output of the `index`-th worker started."""
        return self.root / f"worker-{index}.log"

    def metric(self, index: int, name: str, **labels: str) -> float:
        """A sample of the `index`-th worker's metrics, 0 when it has none yet."""
        url = f"http://127.0.0.1:{self.metrics_ports[index]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0

    def stop_all(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def produce(
        self,
        messages: list[tuple[bytes | None, bytes]],
        topic: str | None = None,
        headers: list[Headers] | None = None,
    ) -> None:
        settings = self.settings
        asyncio.run(publish(settings, topic or settings.topic_raw, messages, headers))

    def headers(self, topic: str, key: bytes) -> list[Headers]:
        """The Kafka headers of every record under `key` in `topic`, oldest first."""
        return [list(record.headers) for record in self.read(topic) if record.key == key]

    def produce_at(self, key: str, article: dict[str, Any], timestamp_ms: int) -> None:
        """Send one article with a chosen Kafka timestamp, as a producer with its own clock may."""

        async def send() -> None:
            client = producer(self.settings)
            await client.start()
            try:
                await client.send_and_wait(
                    self.settings.topic_raw,
                    orjson.dumps(article),
                    key=key.encode(),
                    timestamp_ms=timestamp_ms,
                )
            finally:
                await client.stop()

        asyncio.run(send())

    def read(
        self,
        topic: str,
        count: int = 10**9,
        timeout: float = 3,
        until: Callable[[list[Received]], bool] | None = None,
        start: dict[int, int] | None = None,
    ) -> list[Received]:
        """Read `topic` from the start (or the offsets in `start`) until `count` records
        (or `until` says enough) arrived, or none came for `timeout` seconds."""
        records: list[Received] = []

        def keep(record: Received) -> bool:
            records.append(record)
            return len(records) < count and not (until and until(records))

        asyncio.run(read_records(self.settings, topic, keep, idle_timeout=timeout, start=start))
        return records

    def collect(
        self, topic: str, count: int, timeout: float = 90, start: dict[int, int] | None = None
    ) -> list[Record]:
        """The keys and values of `read`."""
        return [
            (record.key, record.value) for record in self.read(topic, count, timeout, start=start)
        ]

    def ends(self, topic: str) -> dict[int, int]:
        """Where each partition of `topic` ends now, for reading only what comes after."""
        return asyncio.run(end_offsets(self.settings, topic))

    def lag(self) -> int:
        """Messages the group has yet to process on every stage's input topic."""

        async def read() -> int:
            settings = self.settings
            async with OffsetReader(settings) as offsets:
                progress = await offsets.progress(settings.app_id, settings.stage_topics.values())
            return sum(item.lag for item in progress)

        return asyncio.run(read())

    def endings(self, keys: set[bytes], timeout: float = 300) -> dict[bytes, list[bytes]]:
        """Every record of `keys` in the output and dead-letter topics, once the work is done.

        Done means every stage has processed its whole input (lag 0) and then both topics
        are read to their ends, so a late repeat is counted, not missed.
        """
        deadline = time.monotonic() + timeout
        while True:
            late = time.monotonic() > deadline
            if late or self.lag() == 0:
                found = self._records_of(keys)
                if late or keys <= found.keys():
                    return found
            time.sleep(1)

    def _records_of(self, keys: set[bytes]) -> dict[bytes, list[bytes]]:
        """Every record of `keys` in the output and dead-letter topics, read to their ends."""
        found: dict[bytes, list[bytes]] = defaultdict(list)
        for topic in (self.settings.topic_enriched, self.settings.topic_dlq):
            for key, value in self.collect(topic, 10**9, timeout=3):
                if key in keys:
                    found[key].append(value or b"")
        return found

    def enriched(self, ids: Collection[str], timeout: float = 90) -> dict[str, dict[str, Any]]:
        """The enriched records of `ids`, waiting until all of them arrived."""
        wanted = {article_id.encode() for article_id in ids}

        def complete(records: list[Received]) -> bool:
            return wanted <= {record.key for record in records}

        records = self.read(self.settings.topic_enriched, timeout=timeout, until=complete)
        found = {
            record.key.decode(): orjson.loads(record.value or b"")
            for record in records
            if record.key in wanted
        }
        assert found.keys() == set(ids), f"missing {set(ids) - found.keys()}"
        return found


def make_pipeline(kafka: Settings, root: Path, **extra: str) -> Pipeline:
    name = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "STREAMS_KAFKA_BOOTSTRAP": kafka.kafka_bootstrap,
        "STREAMS_APP_ID": f"streams-{name}",
        "STREAMS_TOPIC_PREFIX": name,
        "STREAMS_PARTITIONS": "2",
        "STREAMS_SESSION_TIMEOUT_SECONDS": "10",
        "STREAMS_LOG_LEVEL": "INFO",
        **extra,
    }
    PIPELINE_NAMES.append(name)
    pipeline = Pipeline(env=env, root=root)
    asyncio.run(ensure_topics(pipeline.settings))
    return pipeline


@pytest.fixture(scope="module")
def pipeline(kafka: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A pipeline with one worker running every stage, shared by the tests of one module."""
    running = make_pipeline(kafka, tmp_path_factory.mktemp("pipeline"))
    running.start_worker()
    yield running
    running.stop_all()
