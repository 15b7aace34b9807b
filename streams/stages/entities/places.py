"""Places get identities: each LOC entity linked to a country, first-level region or city.

Rules, in order (the constants below hold the numbers; benchmarks/place_links_eval.py measures
them on a dev split of its gold set and reports the rest):

1. Names. Each surface form of the entity (its text, then its aliases: "Russland",
   "Russlands") is looked up folded (gazetteer.fold) among every name of every place in
   every language the data has. A form that matches nothing is tried without a leading
   article ("the Netherlands", "o Brasil"), then, for languages that inflect names, with
   its endings put back to the base form ("Russlands" -> "Russland", "Москвы" -> "Москва",
   "Соединённых Штатах" -> "Соединённые Штаты", "Sveriges" -> "Sverige"). The rewrites
   only ever produce names the gazetteer holds, so they cannot invent a place. Last,
   "Denver, Colorado" is tried as "Denver".
2. Kind. A country beats every other reading of its name ("Mexico", "Georgia"), unless
   another reading lies in the first-level region of another linked place (Georgia with
   Atlanta), or the name is the country's only in a language neither the article's nor
   English (Swiss German calls Poland "Poole"). A city of ALONE or more inhabitants beats
   a first-level region of its own country with the same name (New York, Berlin,
   Salzburg: news mean the city).
3. Weight. Any other choice is by population, multiplied by CONTEXT when the candidate's
   country is that of another place the article links, by REGION more when it lies in
   the first-level region of another linked city, or in a linked US state (GeoNames'
   region codes, which cities carry, are ISO's only there), and by LANGUAGE when its
   country speaks the article's language, and by OWN_NAME when the form is the place's
   own GeoNames name rather than an alternate one. A region, whose population
   the data lacks, counts as its country's population shared among its regions.
4. Confidence. The heaviest candidate is taken only if it weighs MARGIN times the next
   one ("Springfield" stays unlinked) and, when nothing in the article or its language
   supports it, only if it is a city of at least ALONE inhabitants.

Context comes from a first pass without it; each entity's own mentions are left out of
the context it is judged in. Same entities and language in, same links out.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from streams.records import EntitiesBlock, Link, PlaceCount, PlacesSummary
from streams.stages.entities.gazetteer import Gazetteer, Place, fold

CONTEXT = 10.0
"""How much more a candidate weighs in a country the article's other places are in."""
REGION = 30.0
"""How much more again a city weighs in a first-level region the article's other places are in."""
LANGUAGE = 3.0
"""How much more a candidate weighs in a country that speaks the article's language."""
OWN_NAME = 3.0
"""How much more a place weighs when the form is its own GeoNames name, not an alternate one
("Venice" is Venice, Italy; Dayton, Ohio, only has it among its alternate names)."""
MARGIN = 2.0
"""The heaviest candidate must weigh this many times the next one."""
ALONE = 100_000
"""A city with no support from context or language needs this many inhabitants."""
MAIN_SHARE = 0.5
"""The main country holds more than this share of the article's place mentions, and at least 2."""

# Articles that may open a place name in running text; the form without them is tried second.
_ARTICLES = frozenset({
    "the", "der", "die", "das", "des", "dem", "den", "le", "la", "les", "l'", "el", "los", "las",
    "il", "lo", "gli", "o", "a", "os", "as", "de", "het",
})  # fmt: skip

# Endings of an inflected word -> endings of its base form, by language. Only for forms that
# match nothing as written; every rewrite is checked against the gazetteer's names.
# fmt: off
_ENDINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "de": (("s", ""), ("es", ""), ("n", ""), ("en", "es"), ("e", "es"), ("ns", "n")),
    "sv": (("s", ""), (":s", ""), ("ns", "n")),
    "da": (("s", ""),), "nb": (("s", ""),), "no": (("s", ""),), "nl": (("s", ""),),
    "en": (("'s", ""), ("\u2019s", "")),
    "ru": (
        ("ии", "ия"), ("ию", "ия"), ("ией", "ия"), ("ья", "ья"), ("ого", "ое"), ("ого", "ий"),
        ("ой", "ая"), ("ой", "а"), ("ей", "яя"), ("ей", "я"), ("ых", "ые"), ("их", "ие"),
        ("ах", "ы"), ("ах", "и"), ("ов", "ы"), ("ом", ""), ("ем", "ь"), ("ем", ""),
        ("ы", "а"), ("и", "а"), ("и", "я"), ("и", "ь"), ("е", "а"), ("е", ""), ("е", "я"),
        ("е", "й"), ("е", "ь"), ("у", "а"), ("ю", "я"), ("а", ""), ("я", "й"), ("я", "ь"),
        ("ее", "ея"), ("ой", "ый"), ("ой", "ий"), ("ую", "ая"), ("у", ""),
    ),
}
# fmt: on
_ENDINGS["uk"] = _ENDINGS["ru"]
_ENDINGS["be"] = _ENDINGS["ru"]
_MAX_WORDS = 4  # inflected names of more words are left alone: rewrites multiply per word


@dataclass(frozen=True, slots=True)
class Candidate:
    """A place a form may name, and the folded name it was found by."""

    place: Place
    key: str


@dataclass(frozen=True, slots=True)
class Named:
    """One LOC entity as the linker sees it."""

    forms: tuple[str, ...]
    """Its surface forms, the canonical text first."""
    count: int
    """How many mentions it has."""


class PlaceLinker:
    """Links LOC entities to places by the rules in this module's docstring."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer

    @property
    def name(self) -> str:
        return f"geonames ({self.gazetteer.version})"

    def link(self, block: EntitiesBlock, language: str) -> EntitiesBlock:
        """The block with its LOC entities linked and the article's places summarised."""
        places = [e for e in block.entities if e.label == "LOC"]
        resolved = self.resolve(
            [Named((e.text, *e.aliases), e.count) for e in places], language.lower()
        )
        links = {id(e): link(p) for e, p in zip(places, resolved, strict=True) if p is not None}
        entities = tuple(
            replace(e, link=links[id(e)]) if id(e) in links else e for e in block.entities
        )
        summary = summarise([(links[id(e)], e.count) for e in places if id(e) in links])
        return replace(block, entities=entities, places=summary, linker=self.name)

    def candidates(self, forms: Sequence[str], language: str) -> tuple[Candidate, ...]:
        """Every place a form names: as written, then without an article, then uninflected."""
        heads = [form.split(",")[0] for form in forms if "," in form]
        for attempt, tried in (
            (_as_written, forms),
            (_without_article, forms),
            (_uninflected, forms),
            (_as_written, heads),
            (_uninflected, heads),
        ):
            found: dict[tuple[str, int | str], Candidate] = {}
            for form in tried:
                for variant in attempt(fold(form), language):
                    for place in self.gazetteer.lookup(variant):
                        found.setdefault((place.kb, place.id), Candidate(place, variant))
            if found:
                return tuple(found.values())
        return ()

    def resolve(self, entities: Sequence[Named], language: str) -> list[Place | None]:
        """A place or None for each entity, decided together: they are each other's context."""
        options = [self.candidates(e.forms, language) for e in entities]
        first = [self._choose(c, Counter(), Counter(), language) for c in options]
        countries: Counter[str] = Counter()
        regions: Counter[str] = Counter()
        for place, entity in zip(first, entities, strict=True):
            _count(place, entity.count, countries, regions)
        out = []
        for place, entity, candidates in zip(first, entities, options, strict=True):
            own_countries: Counter[str] = Counter()
            own_regions: Counter[str] = Counter()
            _count(place, entity.count, own_countries, own_regions)
            out.append(
                self._choose(candidates, countries - own_countries, regions - own_regions, language)
            )
        return out

    def _choose(
        self,
        candidates: Sequence[Candidate],
        countries: Counter[str],
        regions: Counter[str],
        language: str,
    ) -> Place | None:
        if not candidates:
            return None
        nations = [c for c in candidates if c.place.kind == "country"]
        others = [c for c in candidates if c.place.kind != "country"]
        native = [c for c in nations if self._native(c, language)]
        # Only another language's name for a country loses to a place of that name ("Poole").
        nations = (native or nations) if native or not others else []
        if len(nations) == 1:
            rivals = [
                c
                for c in others
                if c.place.region is not None
                and c.place.region in regions
                and c.place.country != nations[0].place.country
            ]
            if rivals:  # Georgia with Atlanta
                return self._weigh(rivals, countries, regions, language)
            return nations[0].place
        if nations:
            return self._weigh(nations, countries, regions, language)
        big = {
            c.place.country
            for c in others
            if c.place.kind == "city" and c.place.population >= ALONE
        }
        others = [c for c in others if not (c.place.kind == "region" and c.place.country in big)]
        return self._weigh(others, countries, regions, language)

    def _native(self, candidate: Candidate, language: str) -> bool:
        """Whether the article's language, English, or every language calls the country so."""
        used = self.gazetteer.country_names.get((candidate.key, candidate.place.country), ())
        return language in used or "en" in used or "*" in used

    def _weigh(
        self,
        candidates: Sequence[Candidate],
        countries: Counter[str],
        regions: Counter[str],
        language: str,
    ) -> Place | None:
        weighed = []
        for candidate in candidates:
            place = candidate.place
            support = 1.0
            if place.country in countries:
                support *= CONTEXT
            if place.kind == "city" and place.region is not None and place.region in regions:
                support *= REGION
            if language in self.gazetteer.languages.get(place.country, ()):
                support *= LANGUAGE
            weight = self._size(place) * support
            if fold(place.name) == candidate.key:
                weight *= OWN_NAME
            weighed.append((weight, support, place))
        if not weighed:
            return None
        weighed.sort(key=lambda w: (-w[0], str(w[2].id)))
        weight, support, best = weighed[0]
        if len(weighed) > 1 and weight < MARGIN * weighed[1][0]:
            return None
        if support == 1.0 and best.kind == "city" and best.population < ALONE:
            return None
        return best

    def _size(self, place: Place) -> float:
        if place.kind == "region":
            return self.gazetteer.region_size.get(place.country, 0.0)
        return float(place.population)


def _count(place: Place | None, n: int, countries: Counter[str], regions: Counter[str]) -> None:
    if place is None:
        return
    countries[place.country] += n
    if place.region is not None:
        regions[place.region] += n


def _as_written(key: str, language: str) -> Iterator[str]:
    yield key


def _without_article(key: str, language: str) -> Iterator[str]:
    first, _, rest = key.partition(" ")
    if rest and first in _ARTICLES:
        yield rest
    if key.startswith("l'") and len(key) > 2:
        yield key[2:]


def _uninflected(key: str, language: str) -> Iterator[str]:
    endings = _ENDINGS.get(language)
    if not endings:
        return
    words = key.split(" ")
    if len(words) > _MAX_WORDS:
        return
    options = [[word, *_rewrites(word, endings)] for word in words]
    for combination in itertools.product(*options):
        candidate = " ".join(combination)
        if candidate != key:
            yield candidate


def _rewrites(word: str, endings: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for ending, base in endings:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            out.append(word[: len(word) - len(ending)] + base)
    return out


def link(place: Place) -> Link:
    """The `link` of an entity, in its record form."""
    return Link(
        kb=place.kb,
        id=place.id,
        name=place.name,
        kind=place.kind,
        country=place.country,
        lat=place.lat,
        lon=place.lon,
    )


def summarise(linked: Sequence[tuple[Link, int]]) -> PlacesSummary:
    """Distinct places with their mentions, most mentioned first, and the main country.

    The main country is the one whose places (itself, its regions and cities) hold more than
    MAIN_SHARE of the linked mentions, and at least two of them.
    """
    counts: dict[tuple[str, int | str], list[int]] = {}
    first: dict[tuple[str, int | str], Link] = {}
    for order, (place, n) in enumerate(linked):
        key = (place.kb, place.id)
        if key not in counts:
            counts[key] = [0, order]
            first[key] = place
        counts[key][0] += n
    ordered = sorted(counts, key=lambda k: (-counts[k][0], counts[k][1]))
    places = tuple(
        PlaceCount(
            kb=first[k].kb,
            id=first[k].id,
            name=first[k].name,
            kind=first[k].kind,
            country=first[k].country,
            mentions=counts[k][0],
        )
        for k in ordered
    )
    by_country: Counter[str] = Counter()
    for counted in places:
        by_country[counted.country] += counted.mentions
    main = None
    if by_country:
        top, n = min(by_country.items(), key=lambda kv: (-kv[1], kv[0]))
        if n >= 2 and n > MAIN_SHARE * sum(by_country.values()):
            main = top
    return PlacesSummary(places=places, main_country=main)
