"""Nothing lost, nothing doubled: thousands of articles in flight through crashes and rebalances.

Each test follows every input id to where it ended (enriched or dead letter) and counts
how often. Under exactly_once every id ends exactly once; under at_least_once repeats
are allowed but must be byte-identical to the first copy.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.kafka import local_broker
from streams.settings import Settings
from tests.integration.conftest import WITHOUT_NER_MODELS, Pipeline, make_pipeline
from tests.integration.delivery import ARTICLES, assert_each_once, short_articles


@pytest.fixture
def faulty(kafka: Settings, tmp_path: Path, guarantee: str) -> Iterator[Pipeline]:
    running = make_pipeline(
        kafka, tmp_path, STREAMS_PROCESSING_GUARANTEE=guarantee, **WITHOUT_NER_MODELS
    )
    yield running
    running.stop_all()


def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(
    faulty: Pipeline, guarantee: str
) -> None:
    batch = short_articles("kill")
    keys = {key for key, _ in batch}
    worker = faulty.start_worker()
    faulty.produce(batch)
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 4, timeout=120)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    faulty.start_worker()
    assert_each_once(faulty.endings(keys), batch, guarantee)


def test_a_broker_restart_mid_stream_is_survived_without_help(
    faulty: Pipeline, guarantee: str, kafka: Settings
) -> None:
    batch = short_articles("broker")
    keys = {key for key, _ in batch}
    worker = faulty.start_worker()
    faulty.produce(batch)
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 4, timeout=120)
    stopped = local_broker.stop(kafka)
    started = local_broker.start(kafka)
    assert stopped.startswith("stopped Kafka") and started.startswith("started Kafka"), (
        f"the broker was not restarted: {stopped!r}, {started!r}"
    )
    assert_each_once(faulty.endings(keys), batch, guarantee)
    assert worker.poll() is None, "the worker died instead of reconnecting"


def test_a_worker_joining_and_leaving_mid_stream_loses_and_doubles_nothing(
    faulty: Pipeline, guarantee: str
) -> None:
    batch = short_articles("rebalance")
    keys = {key for key, _ in batch}
    faulty.start_worker()
    faulty.produce(batch)
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 5, timeout=120)
    second = faulty.start_worker()
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 2, timeout=120)
    second.send_signal(signal.SIGTERM)
    second.wait(60)
    assert_each_once(faulty.endings(keys), batch, guarantee)
