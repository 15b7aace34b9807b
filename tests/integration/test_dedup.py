"""Duplicates on the real broker: syndicated copies, exact copies, a crash, and expiry."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from streams.files import text_article
from streams.settings import Settings
from tests.integration.conftest import Pipeline, make_pipeline

SEED = Path(__file__).parents[2] / "seeds" / "000_65e81ee260f6cf05.txt"


def seed_article() -> dict[str, Any]:
    return text_article(SEED.read_text(encoding="utf-8"))


def syndicated_copy(article: dict[str, Any]) -> dict[str, Any]:
    """The same story as another site scrapes it: other title, header and footer debris."""
    body = article["body"].replace("Ausgegeben am:\n\n3 Minuten\n\n", "")
    return {
        "title": "Kim trifft Putin im Kosmodrom",
        "source": "site-41",
        "body": "Startseite › Politik › Ausland\n\nTeilen Sie diesen Artikel\n\n"
        + body
        + "\n\nSchlagwörter: Russland, Nordkorea\n\nKommentar schreiben\n\nImpressum | Datenschutz",
    }


def send(pipeline: Pipeline, article_id: str, article: dict[str, Any]) -> dict[str, Any]:
    """Send one article and wait for its record, so the dedup stage sees articles in order."""
    pipeline.produce_at(article_id, {**article, "id": article_id}, int(time.time() * 1000))
    return pipeline.enriched([article_id])[article_id]["dedup"]


def test_a_syndicated_copy_is_a_near_duplicate_of_the_first(pipeline: Pipeline) -> None:
    first = send(pipeline, "seed-original", seed_article())
    copy = send(pipeline, "seed-syndicated", syndicated_copy(seed_article()))
    assert first == {"status": "unique", "duplicate_of": None, "similarity": None}
    assert copy["status"] == "near_duplicate"
    assert copy["duplicate_of"] == "seed-original"
    assert 0.5 <= copy["similarity"] < 1.0


def test_the_same_body_twice_is_an_exact_duplicate_and_a_known_id_keeps_its_verdict(
    pipeline: Pipeline,
) -> None:
    story = {
        "title": "Flooding closes the harbour road",
        "body": "Heavy rain flooded the harbour road on Monday night. The council closed it "
        "for two days while pumps cleared the water from the tunnel under the railway.",
    }
    assert send(pipeline, "flood-a", story)["status"] == "unique"
    again = send(pipeline, "flood-b", {**story, "title": "Harbour road shut by floods"})
    assert again == {"status": "exact_duplicate", "duplicate_of": "flood-a", "similarity": 1.0}
    redelivered = send(pipeline, "flood-a", story)
    assert redelivered == {"status": "unique", "duplicate_of": None, "similarity": None}


def test_state_survives_a_killed_worker(kafka: Settings, tmp_path: Path) -> None:
    crashing = make_pipeline(kafka, tmp_path)
    try:
        worker = crashing.start_worker()
        assert send(crashing, "before-crash", seed_article())["status"] == "unique"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        crashing.start_worker()  # a fresh data dir: state must come back from the changelogs
        copy = send(crashing, "after-crash", syndicated_copy(seed_article()))
        assert copy["status"] == "near_duplicate"
        assert copy["duplicate_of"] == "before-crash"
    finally:
        crashing.stop_all()


def test_expired_entries_no_longer_match(kafka: Settings, tmp_path: Path) -> None:
    retention_ms = 3600 * 1000
    expiring = make_pipeline(kafka, tmp_path, STREAMS_DEDUP_RETENTION_SECONDS="3600")
    story = seed_article()
    now = int(time.time() * 1000)
    try:
        expiring.start_worker()
        expiring.produce_at("old", {**story, "id": "old"}, now - 2 * retention_ms)
        assert expiring.enriched(["old"])["old"]["dedup"]["status"] == "unique"
        expiring.produce_at(
            "within", {**story, "id": "within"}, now - retention_ms - retention_ms // 2
        )
        within = expiring.enriched(["within"])["within"]["dedup"]
        assert within["duplicate_of"] == "old"
        expiring.produce_at("later", {**story, "id": "later"}, now)
        assert expiring.enriched(["later"])["later"]["dedup"]["status"] == "unique"
    finally:
        expiring.stop_all()
