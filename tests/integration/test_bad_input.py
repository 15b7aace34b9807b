"""Ten thousand generated payloads, most of them hostile: the worker lives, nothing is lost.

Each payload is followed to where it ended: an enriched record (found by a marker field
every generated article carries) or a dead letter (found by its source offset). The
dead letter's code must be the one the input contract gives for that payload, so a later
stage failing where validation should have spoken shows up as a wrong code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import codec
from streams.errors import RejectedMessage
from streams.kafka.clients import producer
from streams.settings import Settings
from streams.stages.validate.contract import parse_article
from tests.integration.conftest import Pipeline, make_pipeline

MARKER = "_fuzz"


@pytest.fixture(scope="module")
def pipeline(kafka: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A worker on every stage with the shipped entity models, as users run it."""
    running = make_pipeline(kafka, tmp_path_factory.mktemp("fuzz"))
    running.start_worker()
    yield running
    running.stop_all()


BATCHES = 5
PER_BATCH = 1000
batch_numbers = itertools.count()

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
texts = st.text(max_size=400)  # NUL, control characters and lone surrogates included
words = st.sampled_from(
    ["Berlin", "Angela", "Merkel", "Paris", "Siemens", "the", "und", "le", "de", "news"]
)
prose = st.lists(words, min_size=1, max_size=60).map(" ".join)
articles = st.fixed_dictionaries(
    {"body": prose | texts | st.integers() | st.none()},
    optional={
        "id": texts | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.lists(texts),
        "title": texts | st.integers() | st.none(),
        "url": texts,
        "language": texts | st.booleans(),
        "published_at": st.sampled_from(["2024-05-01T10:00:00Z", "yesterday", ""]) | texts,
        "extra": values,
    },
)
keys = st.one_of(
    st.none(),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
    st.integers(10_000, 200_000).map(lambda size: b"\xff" * size),
)
huge_body = st.integers(990_000, 1_010_000).map(lambda size: {"body": "ä" * (size // 2)})


def _encode(article: dict[str, Any], ascii_only: bool) -> bytes:
    if ascii_only:
        return json.dumps(article).encode()
    return json.dumps(article, ensure_ascii=False).encode("utf-8", "surrogatepass")


payloads = st.one_of(
    st.tuples(st.just("raw"), st.binary(max_size=300)),
    st.tuples(st.just("raw"), values.map(lambda value: json.dumps(value).encode())),
    st.tuples(
        st.just("raw"),
        st.integers(1, 5000).map(
            lambda depth: b'{"body": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"
        ),
    ),
    st.tuples(st.sampled_from(["ascii", "utf-8"]), articles),
    st.tuples(st.sampled_from(["ascii", "utf-8"]), articles),
    st.tuples(st.sampled_from(["ascii", "utf-8"]), articles),
    st.integers(0, 99).flatmap(
        lambda n: (
            st.tuples(st.just("ascii"), huge_body)
            if n == 0
            else st.tuples(st.just("utf-8"), articles)
        )
    ),
)


def build(number: int, kind: str, payload: Any) -> bytes:
    """The message value; every generated article carries its marker, so its record is found."""
    if kind == "raw":
        return bytes(payload)
    return _encode({**payload, MARKER: number}, ascii_only=kind == "ascii")


def expected_code(key: bytes | None, value: bytes, limit: int) -> str | None:
    """The dead-letter code the contract gives, or None for an article that must come out."""
    try:
        parse_article(key, value, limit)
    except RejectedMessage as error:
        return error.code
    return None


async def send_all(
    settings: Settings, messages: list[tuple[bytes | None, bytes]]
) -> list[tuple[int, int]]:
    """Publish in order; return each message's (partition, offset)."""
    client = producer(settings)
    await client.start()
    try:
        futures = [
            await client.send(settings.topic_raw, value=value, key=key) for key, value in messages
        ]
        return [(meta.partition, meta.offset) for meta in [await future for future in futures]]
    finally:
        await client.stop()


@settings(
    max_examples=BATCHES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(batch=st.lists(st.tuples(keys, payloads), min_size=PER_BATCH, max_size=PER_BATCH))
def test_every_generated_payload_ends_once_where_the_contract_says(
    pipeline: Pipeline, batch: list[tuple[bytes | None, tuple[str, Any]]]
) -> None:
    settings_ = pipeline.settings
    first = next(batch_numbers) * PER_BATCH
    messages = [
        (key, build(first + n, kind, payload)) for n, (key, (kind, payload)) in enumerate(batch)
    ]
    starts = {
        topic: pipeline.ends(topic) for topic in (settings_.topic_enriched, settings_.topic_dlq)
    }
    coordinates = asyncio.run(send_all(settings_, messages))
    index = {coordinate: n for n, coordinate in enumerate(coordinates)}
    expected = [expected_code(key, value, settings_.max_body_bytes) for key, value in messages]
    wanted = set(range(len(messages)))

    def found() -> tuple[dict[int, list[str]], int]:
        endings: dict[int, list[str]] = {n: [] for n in wanted}
        enriched, dlq = settings_.topic_enriched, settings_.topic_dlq
        for _, value in pipeline.collect(enriched, 10**9, timeout=3, start=starts[enriched]):
            marker = codec.loads(value or b"").get(MARKER)
            if isinstance(marker, int) and marker - first in endings:
                endings[marker - first].append("enriched")
        for _, value in pipeline.collect(dlq, 10**9, timeout=3, start=starts[dlq]):
            letter = orjson.loads(value or b"")
            source = letter["source"]
            n = index.get((source["partition"], source["offset"]))
            if source["topic"] == settings_.topic_raw and n is not None:
                endings[n].append(letter["error_code"])
        return endings, sum(1 for ends in endings.values() if ends)

    deadline = time.monotonic() + 600
    while True:
        settled = pipeline.lag() == 0
        endings, ended = found()
        if (settled and ended == len(wanted)) or time.monotonic() > deadline:
            break
        time.sleep(2)
    lost = [n for n, ends in endings.items() if not ends]
    doubled = [n for n, ends in endings.items() if len(ends) > 1]
    wrong = [
        (n, ends[0], expected[n])
        for n, ends in endings.items()
        if len(ends) == 1 and ends[0] != (expected[n] or "enriched")
    ]
    assert not lost, f"{len(lost)} payloads lost, e.g. {messages[lost[0]][1][:200]!r}"
    assert not doubled, f"{len(doubled)} payloads ended twice"
    assert not wrong, f"{len(wrong)} payloads ended with another code, e.g. {wrong[:3]}"
    assert all(worker.poll() is None for worker in pipeline.workers)
