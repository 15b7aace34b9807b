"""Entity tagging on the real broker: German, English, French, and a language without a pipeline."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from streams.files import text_article
from tests.integration.conftest import Pipeline

SEEDS = Path(__file__).parents[2] / "seeds"


def enrich(pipeline: Pipeline, article_id: str, article: dict[str, Any]) -> dict[str, Any]:
    pipeline.produce_at(article_id, {**article, "id": article_id}, int(time.time() * 1000))
    return pipeline.enriched([article_id])[article_id]


def names(record: dict[str, Any]) -> dict[str, str]:
    """Every surface form, canonical or alias, with the label of its entity."""
    return {
        form: entity["label"]
        for entity in record["entities"]
        for form in (entity["text"], *entity["aliases"])
    }


def assert_spans_slice_the_body(record: dict[str, Any]) -> None:
    body = record["body"]
    for entity in record["entities"]:
        forms = {entity["text"], *entity["aliases"]}
        assert entity["count"] == len(entity["spans"])
        for start, end in entity["spans"]:
            assert body[start:end] in forms, (entity, body[start:end])


def test_the_german_seed_names_its_people_places_and_organisations(pipeline: Pipeline) -> None:
    seed = text_article((SEEDS / "000_65e81ee260f6cf05.txt").read_text(encoding="utf-8"))
    record = enrich(pipeline, "seed-de", seed)
    assert record["pipeline"]["stages"]["entities"]["tagger"].startswith("de_streams_ner")
    found = names(record)
    for person in ("Wladimir Putin", "Sergej Schoigu"):
        assert found.get(person) == "PER", person
    for place in ("Russland", "Nordkorea", "Wladiwostok"):
        assert found.get(place) == "LOC", place
    assert found.get("AFP") == "ORG"
    links = {e["text"]: e["link"] for e in record["entities"]}
    assert links["Russland"]["id"] == 2017370 and links["Russland"]["kind"] == "country"
    assert links["Nordkorea"]["country"] == "KP" and links["Wladimir Putin"] is None
    places = record["pipeline"]["stages"]["entities"]["places"]["places"]
    assert {place["country"] for place in places} >= {"RU", "KP"}
    putin = next(e for e in record["entities"] if e["text"] == "Wladimir Putin")
    assert "Putin" in putin["aliases"] and putin["count"] > 1
    assert_spans_slice_the_body(record)


def test_english_and_french_articles_are_tagged_with_their_pipelines(pipeline: Pipeline) -> None:
    english = enrich(
        pipeline, "seed-en", text_article((SEEDS / "001_en_harbour_bridge.txt").read_text())
    )
    french = enrich(
        pipeline, "seed-fr", text_article((SEEDS / "002_fr_greve_transports.txt").read_text())
    )
    assert english["pipeline"]["stages"]["entities"]["tagger"].startswith("en_core_web_sm")
    assert "Portsmouth" in names(english)  # en_core_web_sm reads "council of Portsmouth" as ORG
    assert names(english).get("Sarah Whitfield") == "PER"
    assert french["pipeline"]["stages"]["entities"]["tagger"].startswith("fr_core_news_sm")
    assert names(french).get("Lyon") == "LOC" or names(french).get("Métropole de Lyon")
    assert names(french).get("Marc Delorme") == "PER"
    for record in (english, french):
        assert_spans_slice_the_body(record)


def test_a_language_without_a_pipeline_gets_no_tagger_and_no_entities(pipeline: Pipeline) -> None:
    spanish = enrich(
        pipeline, "seed-es", text_article((SEEDS / "003_es_sequia_cataluna.txt").read_text())
    )
    assert spanish["language"]["code"] == "es"
    stage = spanish["pipeline"]["stages"]["entities"]
    assert stage["tagger"] is None
    assert stage["places"] == {"places": [], "main_country": None}
    assert spanish["entities"] == []


def megabyte_of_short_words() -> str:
    """1,000,000 bytes of short German words and names: the costliest text to tag per byte."""
    words = [
        "er",
        "es",
        "da",
        "so",
        "wo",
        "ja",
        "am",
        "im",
        "um",
        "zu",
        "an",
        "in",
        "ob",
        "wie",
        "der",
        "die",
        "das",
        "und",
        "mit",
        "Anna",
        "Köln",
        "Bonn",
    ]
    rng = random.Random(5)
    text = " ".join(rng.choice(words) for _ in range(300_000))
    return text.encode()[:1_000_000].decode(errors="ignore").rsplit(" ", 1)[0]


def test_a_megabyte_of_short_words_does_not_hold_the_event_loop(pipeline: Pipeline) -> None:
    """Tagging it takes tens of seconds; the worker's loop must go on meanwhile, or its
    commits, fetches and group callbacks wait as long (its session timeout here is 10 s).

    The loop wakes a timer every quarter second and records how late it woke: fewer
    wake-ups than seconds, or one late by over a second, mean the loop was held.
    """
    probes = "streams_event_loop_delay_seconds_count"
    before, started = pipeline.metric(0, probes), time.monotonic()
    pipeline.produce_at("megabyte", {"body": megabyte_of_short_words()}, int(time.time() * 1000))
    record = pipeline.enriched(["megabyte"], timeout=240)["megabyte"]
    elapsed = time.monotonic() - started
    assert record["language"]["code"] == "de" and record["entities"]
    woke = pipeline.metric(0, probes) - before
    assert woke >= elapsed, f"the event loop woke its timer {woke:.0f} times in {elapsed:.0f} s"
    late = pipeline.metric(0, probes) - pipeline.metric(
        0, "streams_event_loop_delay_seconds_bucket", le="1.0"
    )
    assert late == 0, f"the event loop was held for over a second {late:.0f} times"
    assert pipeline.workers[0].poll() is None
