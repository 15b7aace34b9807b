"""Each stage object on its own: what it reads, the block it returns, what it counts.

The models themselves are tested in test_langid.py and test_entities.py; here they are
stood in for, so these pin down the stages' own rules.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import orjson
import pytest

from streams.errors import InvalidField
from streams.metrics import create_metrics
from streams.records import (
    EntitiesBlock,
    Envelope,
    LanguageBlock,
    PlaceCount,
    PlacesSummary,
    RawMessage,
    Source,
)
from streams.stages.entities import EntityTagging
from streams.stages.language import LanguageDetection
from streams.stages.language.detector import Detection
from streams.stages.validate import Validation

SOURCE = Source("articles.raw", 0, 7, 1_700_000_000_000)


def raw(value: dict[str, object], timestamp_ms: int = SOURCE.timestamp) -> RawMessage:
    return RawMessage(b"key", orjson.dumps(value), Source("articles.raw", 0, 7, timestamp_ms))


def test_validation_keeps_the_producers_language_apart_as_a_hint() -> None:
    envelope = Validation(1000).step(raw({"body": "Text.", "language": "fr", "x": [1]}))
    assert envelope.fields == {"body": "Text.", "x": [1], "id": "key"}
    assert envelope.hint == "fr" and envelope.key == b"key" and envelope.language is None


@pytest.mark.parametrize("timestamp_ms", [253_402_300_800_000, -62_135_596_800_001])
def test_validation_refuses_an_event_time_rfc3339_cannot_state(timestamp_ms: int) -> None:
    with pytest.raises(InvalidField, match="years 1 to 9999"):
        Validation(1000).step(raw({"body": "Text."}, timestamp_ms))


class Identifier:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def detect(self, text: str) -> Detection:
        self.texts.append(text)
        return Detection(code="de", confidence=0.987654, detector="stand-in")


def admitted() -> Envelope:
    return Validation(1000).step(raw({"title": "Titel", "body": "Text.", "language": "en"}))


def test_language_reads_title_and_body_and_never_takes_the_hint() -> None:
    identifier = Identifier()
    stage = LanguageDetection(identifier)  # type: ignore[arg-type]
    block = stage.process(admitted())
    assert identifier.texts == ["Titel\n\nText."]
    assert block == LanguageBlock(code="de", confidence=0.9877, detector="stand-in", hint="en")
    metrics = create_metrics()
    stage.observe(metrics, admitted().merged(block))
    assert metrics.registry.get_sample_value("streams_languages_total", {"code": "de"}) == 1


class Tagger:
    def tag(self, text: str, language: str) -> EntitiesBlock:
        return EntitiesBlock(entities=(), tagger=f"{language}-stand-in")


class Linker:
    def link(self, block: EntitiesBlock, language: str) -> EntitiesBlock:
        return replace(block, linker=f"{language}-linker")


def test_entities_tag_the_body_in_the_detected_language_and_link_its_places() -> None:
    stage = EntityTagging(Tagger(), Linker())  # type: ignore[arg-type]
    language = LanguageBlock(code="fr", confidence=1.0, detector="x", hint=None)
    block = stage.process(admitted().merged(language))
    assert (block.tagger, block.linker) == ("fr-stand-in", "fr-linker")
    with pytest.raises(ValueError, match="language stage"):
        stage.process(admitted())


def test_entities_count_each_country_an_article_names_once() -> None:
    places = (
        PlaceCount("geonames", 2017370, "Russia", "country", "RU", 3),
        PlaceCount("geonames", 2013348, "Vladivostok", "city", "RU", 1),
        PlaceCount("geonames", 2950159, "Berlin", "city", "DE", 1),
    )
    block = EntitiesBlock(entities=(), tagger="x", places=PlacesSummary(places, "RU"))
    metrics = create_metrics()
    EntityTagging(Tagger(), Linker()).observe(metrics, admitted().merged(block))  # type: ignore[arg-type]
    counted = {
        country: metrics.registry.get_sample_value("streams_places_total", {"country": country})
        for country in ("RU", "DE", "FR")
    }
    assert counted == {"RU": 1.0, "DE": 1.0, "FR": None}


def test_a_worker_without_language_and_entities_loads_none_of_their_models() -> None:
    script = (
        "import sys\n"
        "from streams.kafka.app import create_app\n"
        "from streams.metrics import create_metrics\n"
        "from streams.settings import load_settings\n"
        "create_app(load_settings({}), create_metrics(), ['validate', 'dedup'])\n"
        "print(sorted(m for m in ('spacy', 'lingua', 'fasttext', 'pycld2') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
