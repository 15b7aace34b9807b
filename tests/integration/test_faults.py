"""Nothing lost, nothing doubled: thousands of articles in flight through crashes and rebalances.

Each test follows every input id to where it ended (enriched or dead letter) and counts
how often. Under exactly_once every id ends exactly once; under at_least_once repeats
are allowed but must be byte-identical to the first copy.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams import broker
from streams.settings import Settings
from tests.integration.conftest import WITHOUT_NER_MODELS, Pipeline, make_pipeline

ARTICLES = 5000
BAD_EVERY = 50


def messages(prefix: str) -> list[tuple[bytes, bytes]]:
    """Short articles, every BAD_EVERY-th one broken so the dead-letter path is in flight too."""
    batch = []
    for n in range(ARTICLES):
        key = f"{prefix}-{n}".encode()
        if n % BAD_EVERY == 0:
            batch.append((key, b"{broken json"))
        else:
            body = f"Meldung {n}: Der Stadtrat hat am Abend über den Haushalt {n % 97} beraten."
            batch.append((key, orjson.dumps({"id": key.decode(), "body": body})))
    return batch


def assert_each_once(found: dict[bytes, list[bytes]], keys: set[bytes], guarantee: str) -> None:
    missing = keys - found.keys()
    assert not missing, f"{len(missing)} articles lost, e.g. {sorted(missing)[:5]}"
    repeated = {key: copies for key, copies in found.items() if len(copies) > 1}
    print(f"{guarantee}: {len(keys)} articles, {len(repeated)} ended more than once")
    if guarantee == "exactly_once":
        assert not repeated, f"{len(repeated)} articles doubled, e.g. {sorted(repeated)[:5]}"
    for copies in repeated.values():
        first = orjson.loads(copies[0])
        for copy in copies[1:]:
            other = orjson.loads(copy)
            first.pop("failed_at", None)
            other.pop("failed_at", None)
            assert other == first


@pytest.fixture(params=["exactly_once", "at_least_once"])
def guarantee(request: pytest.FixtureRequest) -> str:
    """Both guarantees: exactly_once (the default) must double nothing."""
    return str(request.param)


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
    batch = messages("kill")
    keys = {key for key, _ in batch}
    worker = faulty.start_worker()
    faulty.produce(batch)
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 4, timeout=120)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    faulty.start_worker()
    assert_each_once(faulty.endings(keys), keys, guarantee)


def test_a_broker_restart_mid_stream_is_survived_without_help(
    faulty: Pipeline, guarantee: str, kafka: Settings
) -> None:
    batch = messages("broker")
    keys = {key for key, _ in batch}
    worker = faulty.start_worker()
    faulty.produce(batch)
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 4, timeout=120)
    broker.stop(kafka)
    broker.start(kafka)
    assert_each_once(faulty.endings(keys), keys, guarantee)
    assert worker.poll() is None, "the worker died instead of reconnecting"


def test_a_worker_joining_and_leaving_mid_stream_loses_and_doubles_nothing(
    faulty: Pipeline, guarantee: str
) -> None:
    batch = messages("rebalance")
    keys = {key for key, _ in batch}
    faulty.start_worker()
    faulty.produce(batch)
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 5, timeout=120)
    second = faulty.start_worker()
    faulty.collect(faulty.settings.topic_enriched, ARTICLES // 2, timeout=120)
    second.send_signal(signal.SIGTERM)
    second.wait(60)
    assert_each_once(faulty.endings(keys), keys, guarantee)
