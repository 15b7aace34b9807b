"""The layouts the README and docker-compose.yml ship, under both guarantees, every id counted.

One worker per stage with replicas of the costly ones (compose), a replica killed and a new
one joining; a dedup worker killed and restarted on its own disk, then its stage failing
over to a worker with an empty one.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.files import text_article
from streams.settings import Settings
from tests.integration.conftest import WITHOUT_NER_MODELS, Pipeline, make_pipeline
from tests.integration.delivery import (
    ARTICLES,
    assert_each_once,
    originals_and_copies,
    short_articles,
)


@pytest.fixture
def split(kafka: Settings, tmp_path: Path, guarantee: str) -> Iterator[Pipeline]:
    running = make_pipeline(
        kafka,
        tmp_path,
        STREAMS_PROCESSING_GUARANTEE=guarantee,
        STREAMS_PARTITIONS="4",
        **WITHOUT_NER_MODELS,
    )
    yield running
    running.stop_all()


def test_one_worker_per_stage_with_replicas_survives_a_killed_replica_and_a_new_one(
    split: Pipeline, guarantee: str
) -> None:
    batch = short_articles("split")
    keys = {key for key, _ in batch}
    _, _, _, doomed, _, _ = split.start_workers(
        "validate", "language", "language", "entities", "entities", "dedup"
    )
    split.produce(batch)
    split.collect(split.settings.topic_enriched, ARTICLES // 4, timeout=180)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    split.start_worker("entities")
    assert_each_once(split.endings(keys), batch, guarantee)
    assert all(worker.poll() is None for worker in split.workers if worker is not doomed)


def verdicts(pipeline: Pipeline, ids: set[bytes]) -> dict[str, dict[str, object]]:
    """The dedup block of each of `ids`, from the enriched topic."""
    records = pipeline.collect(pipeline.settings.topic_enriched, 10**9, timeout=3)
    return {
        key.decode(): orjson.loads(value or b"")["dedup"] for key, value in records if key in ids
    }


def test_a_dedup_worker_restarts_on_its_own_disk_then_fails_over_to_an_empty_one(
    split: Pipeline, guarantee: str, tmp_path: Path
) -> None:
    originals, copies = originals_and_copies("disk", ARTICLES // 2)
    keys = {key for key, _ in originals + copies}
    disk = tmp_path / "dedup-disk"
    split.start_worker("validate,language,entities")
    dedup = split.start_worker("dedup", data_dir=disk)
    split.produce(originals)
    split.collect(split.settings.topic_enriched, len(originals) // 4, timeout=180)
    dedup.send_signal(signal.SIGKILL)
    dedup.wait()
    restarted = split.start_worker("dedup", data_dir=disk)
    split.endings({key for key, _ in originals})
    restarted.send_signal(signal.SIGTERM)
    restarted.wait(60)
    split.start_worker("dedup", data_dir=tmp_path / "empty-disk")
    split.produce(copies)
    assert_each_once(split.endings(keys), originals + copies, guarantee)
    judged = verdicts(split, keys)
    unique = {"status": "unique", "duplicate_of": None, "similarity": None}
    assert [key for key, _ in originals if judged[key.decode()] != unique] == []
    wrong = [
        (copy.decode(), judged[copy.decode()])
        for (original, _), (copy, _) in zip(originals, copies, strict=True)
        if judged[copy.decode()]["duplicate_of"] != original.decode()
    ]
    assert wrong == [], f"{len(wrong)} copies not matched to their original, e.g. {wrong[:3]}"


def test_local_state_ahead_of_its_changelog_is_rebuilt_not_fatal(
    kafka: Settings, tmp_path: Path
) -> None:
    """A transaction aborted after its table writes leaves RocksDB ahead of the changelog.

    The first dedup worker never commits (an hour-long commit interval), so when it is
    killed its table writes exist only on its disk and in an aborted transaction.
    """
    pipeline = make_pipeline(kafka, tmp_path, STREAMS_PARTITIONS="4", **WITHOUT_NER_MODELS)
    originals, copies = originals_and_copies("ahead", 40)
    disk = tmp_path / "dedup-disk"
    try:
        pipeline.start_worker("validate,language,entities")
        never_commits = pipeline.start_worker(
            "dedup", data_dir=disk, STREAMS_COMMIT_INTERVAL_SECONDS="3600"
        )
        index = len(pipeline.workers) - 1
        pipeline.produce(originals)
        deadline = time.monotonic() + 120
        while pipeline.metric(index, "streams_messages_total", stage="dedup") < len(originals):
            assert time.monotonic() < deadline, "the dedup worker did not process the articles"
            time.sleep(0.5)
        never_commits.send_signal(signal.SIGKILL)
        never_commits.wait()
        restarted = pipeline.start_worker("dedup", data_dir=disk)
        pipeline.endings({key for key, _ in originals})
        log = pipeline.log(len(pipeline.workers) - 1).read_text(errors="replace")
        assert "rebuilding it from the changelog" in log
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(60)
        pipeline.start_worker("dedup", data_dir=tmp_path / "empty-disk")
        pipeline.produce(copies)
        keys = {key for key, _ in originals + copies}
        assert_each_once(pipeline.endings(keys), originals + copies, "exactly_once")
        judged = verdicts(pipeline, keys)
        for (original, _), (copy, _) in zip(originals, copies, strict=True):
            assert judged[copy.decode()]["duplicate_of"] == original.decode()
    finally:
        pipeline.stop_all()


SEEDS = Path(__file__).parents[2] / "seeds"


def seed_articles(count: int) -> tuple[list[tuple[bytes, bytes]], dict[str, str]]:
    """Articles cut from the seeds in five languages, with the language each is written in."""
    stories = []
    for path in sorted(SEEDS.glob("*.txt")):
        named = re.match(r"\d+_([a-z]{2})_", path.name)  # 000_<hash>.txt is the German one
        stories.append((named.group(1) if named else "de", text_article(path.read_text())))
    batch, languages = [], {}
    for n in range(count):
        language, story = stories[n % len(stories)]
        sentences = re.split(r"(?<=[.!?])\s+", story["body"])
        turn = (n // len(stories)) % len(sentences)
        body = " ".join((sentences[turn:] + sentences[:turn])[:4])
        article_id = f"models-{n}"
        batch.append((article_id.encode(), orjson.dumps({"id": article_id, "body": body})))
        languages[article_id] = language
    return batch, languages


def test_one_worker_per_stage_with_the_shipped_models(kafka: Settings, tmp_path: Path) -> None:
    pipeline = make_pipeline(kafka, tmp_path, STREAMS_PARTITIONS="4")
    batch, languages = seed_articles(300)
    keys = {key for key, _ in batch}
    try:
        pipeline.start_workers("validate", "language", "entities", "entities", "dedup")
        pipeline.produce(batch)
        assert_each_once(pipeline.endings(keys), batch, "exactly_once")
        records = pipeline.enriched(languages)
        wrong = [i for i, record in records.items() if record["language"]["code"] != languages[i]]
        assert wrong == []
        tagged = {
            i for i, record in records.items() if record["pipeline"]["stages"]["entities"]["tagger"]
        }
        assert tagged == {i for i, language in languages.items() if language in ("de", "en", "fr")}
        assert all(records[i]["entities"] for i in tagged)
    finally:
        pipeline.stop_all()
