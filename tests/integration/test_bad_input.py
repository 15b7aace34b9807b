"""Ten thousand generated payloads, most of them hostile: the worker lives, nothing is lost."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.settings import Settings
from tests.integration.conftest import WITHOUT_NER_MODELS, Pipeline, make_pipeline


@pytest.fixture(scope="module")
def pipeline(kafka: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A worker on every stage; the entities stage runs without models to keep this fast."""
    running = make_pipeline(kafka, tmp_path_factory.mktemp("fuzz"), **WITHOUT_NER_MODELS)
    running.start_worker()
    yield running
    running.stop_all()


BATCHES = 10
PER_BATCH = 1000
batch_numbers = itertools.count()

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
texts = st.text(max_size=400)  # NUL, control characters and lone surrogates included
articles = st.fixed_dictionaries(
    {"body": texts | st.integers() | st.none()},
    optional={
        # String ids would key the output by themselves; they are covered by unit tests.
        "id": st.integers() | st.floats(allow_nan=False) | st.booleans() | st.lists(texts),
        "title": texts | st.integers() | st.none(),
        "url": texts,
        "language": texts | st.booleans(),
        "published_at": st.sampled_from(["2024-05-01T10:00:00Z", "yesterday", ""]) | texts,
        "extra": values,
    },
)
payloads = st.one_of(
    st.binary(max_size=300),
    articles.map(lambda article: json.dumps(article).encode()),
    articles.map(
        lambda article: json.dumps(article, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
    values.map(lambda value: json.dumps(value).encode()),
    st.integers(1, 5000).map(
        lambda depth: b'{"body": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"
    ),
    st.integers(990_000, 1_010_000).map(lambda size: orjson.dumps({"body": "ä" * (size // 2)})),
)


@settings(
    max_examples=BATCHES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(batch=st.lists(payloads, min_size=PER_BATCH, max_size=PER_BATCH))
def test_every_generated_payload_ends_in_output_or_dead_letters_once(
    pipeline: Pipeline, batch: list[bytes]
) -> None:
    number = next(batch_numbers)
    keys = [f"fuzz-{number}-{n}".encode() for n in range(len(batch))]
    pipeline.produce(list(zip(keys, batch, strict=True)))
    endings = pipeline.endings(set(keys))
    lost = [key for key in keys if key not in endings]
    doubled = [key for key, copies in endings.items() if len(copies) > 1]
    assert not lost, f"{len(lost)} payloads lost, e.g. {batch[keys.index(lost[0])][:200]!r}"
    assert not doubled, f"{len(doubled)} payloads ended twice"
    assert all(worker.poll() is None for worker in pipeline.workers)
