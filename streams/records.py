"""The records that cross topics: the in-flight envelope, its blocks, and the dead letter.

Unknown input fields must pass through untouched, so the article's own fields stay a JSON
object; everything the pipeline adds is a typed block beside it, merged into the output
only when the last stage writes it. The JSON Schemas in `streams/schemas/` describe the
same shapes for consumers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeAlias, cast

from streams import codec

JSON: TypeAlias = "str | int | float | bool | list[JSON] | dict[str, JSON] | None"
Fields: TypeAlias = "dict[str, JSON]"
"""An article's own fields, as its producer sent them."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rfc3339(epoch_ms: int) -> str:
    """Kafka timestamps (milliseconds) as RFC 3339 UTC with millisecond precision."""
    moment = EPOCH + timedelta(milliseconds=epoch_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def send_seconds(epoch_ms: int) -> float:
    """A Kafka timestamp in faust's send form, seconds, that faust turns back into `epoch_ms`.

    faust truncates `seconds * 1000` to an integer, and ms / 1000 * 1000 falls just short of
    ms for some values: half a millisecond more keeps every stage's timestamp exact.
    """
    return (epoch_ms + 0.5) / 1000


def text_or_base64(data: bytes | None) -> tuple[str | None, str | None]:
    """Bytes as (text, None) when they are UTF-8, else (None, base64): never lossy."""
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message was read: what a dead letter points back to."""

    topic: str
    """Topic of the original message."""
    partition: int
    """Partition of the original message."""
    offset: int
    """Offset of the original message in its partition."""
    timestamp: int
    """Kafka timestamp of the original message, milliseconds since the epoch."""


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as a stage received it, before anything is decoded."""

    key: bytes | None
    """The key bytes, or None."""
    value: bytes | None
    """The value bytes, or None for a tombstone."""
    source: Source
    """Where it was read."""


@dataclass(frozen=True, slots=True)
class LanguageBlock:
    """The `language` field of an enriched article."""

    code: str
    """ISO 639-1 where one exists, else ISO 639-3; `und` only for text without letters."""
    confidence: float
    """How sure the detector is, 0 to 1."""
    detector: str
    """Which detector (or combination) decided."""
    hint: str | None
    """The producer's own `language` field, kept but never trusted blindly."""


PlaceKind = Literal["country", "region", "city"]


@dataclass(frozen=True, slots=True)
class Link:
    """The place a LOC entity names: its `link` field."""

    kb: str
    """Where `id` comes from: "geonames", or "iso3166-2" for a region without a GeoNames id."""
    id: int | str
    """The GeoNames id (countries, cities, US states), else the ISO 3166-2 code ("DE-BY")."""
    name: str
    """The place's English name in the data ("Russia", "Frankfurt am Main")."""
    kind: PlaceKind
    """country, region (first-level subdivision) or city."""
    country: str
    """ISO 3166-1 alpha-2 code of the country it is or lies in."""
    lat: float | None
    """Latitude in degrees; cities only, else null."""
    lon: float | None
    """Longitude in degrees; cities only, else null."""


@dataclass(slots=True)
class Entity:
    """All mentions of one entity in the body: one item of the `entities` field.

    Kept in its JSON shapes (lists, not frozen): the dedup stage decodes every entity of
    every article it passes on, and converting them was a third of a hop's cost
    (benchmarks/envelope_codec.py).
    """

    text: str
    """Canonical text: the most complete mention."""
    label: str
    """PER, ORG, LOC or MISC: the label most of its mentions got."""
    count: int
    """How many mentions."""
    aliases: list[str]
    """Other surface forms, sorted."""
    spans: list[list[int]]
    """[start, end) code-point offsets of every mention, in text order."""
    link: Link | None = None
    """The place a LOC entity names; None for other labels and places not resolved with
    confidence."""


@dataclass(frozen=True, slots=True)
class PlaceCount:
    """One distinct linked place of an article, with how often the article names it."""

    kb: str
    """As in Link."""
    id: int | str
    """As in Link."""
    name: str
    """As in Link."""
    kind: PlaceKind
    """As in Link."""
    country: str
    """As in Link."""
    mentions: int
    """Mentions of all the entities linked to it."""


@dataclass(frozen=True, slots=True)
class PlacesSummary:
    """The article's places at a glance: `pipeline.stages.entities.places` in the output."""

    places: tuple[PlaceCount, ...]
    """Distinct linked places, most mentioned first (ties: first named first)."""
    main_country: str | None
    """ISO 3166-1 alpha-2 code of the country that holds most of the place mentions, if one
    stands out; else None."""


NO_PLACES = PlacesSummary(places=(), main_country=None)


@dataclass(frozen=True, slots=True)
class EntitiesBlock:
    """What the entities stage found."""

    entities: tuple[Entity, ...]
    """Merged entities, ordered by their first mention."""
    tagger: str | None
    """The pipeline that ran, e.g. "de_streams_ner-0.1.0"; None when the language has none."""
    places: PlacesSummary = NO_PLACES
    """The linked places of the article."""
    linker: str | None = None
    """The place linker and the data it was built from; None when none ran."""


Status = Literal["unique", "exact_duplicate", "near_duplicate"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The `dedup` field of an enriched article."""

    status: Status
    """unique, exact_duplicate (same normalised body) or near_duplicate (similar body)."""
    duplicate_of: str | None
    """Id of the group's root; None when unique."""
    similarity: float | None
    """Estimated Jaccard similarity to the root (1.0 when exact); None when unique."""


@dataclass(frozen=True, slots=True)
class DedupBlock:
    """What the dedup stage decided, and how."""

    verdict: Verdict
    method: str
    """How similarity was estimated, e.g. "minhash-lsh"."""
    threshold: float
    """The similarity at which a body counts as a near duplicate."""


Block = LanguageBlock | EntitiesBlock | DedupBlock


@dataclass(frozen=True, slots=True)
class Envelope:
    """The article between stages: its own fields, the blocks added so far, and its origin."""

    fields: Fields
    """The input object as sent, with its id; the producer's `language` hint is kept apart."""
    key: bytes | None
    """The original message key, for the dead letters of later stages."""
    source: Source
    """Where the article entered the pipeline; its timestamp is the article's event time."""
    version: str
    """The pipeline release that admitted it."""
    hint: str | None = None
    """The producer's `language` field."""
    language: LanguageBlock | None = None
    entities: EntitiesBlock | None = None
    dedup: DedupBlock | None = None

    @property
    def id(self) -> str:
        return cast(str, self.fields["id"])

    @property
    def body(self) -> str:
        return cast(str, self.fields["body"])

    @property
    def title(self) -> str | None:
        return cast("str | None", self.fields.get("title"))

    def merged(self, block: Block) -> Envelope:
        """The envelope with one stage's block added."""
        match block:
            case LanguageBlock():
                return replace(self, language=block)
            case EntitiesBlock():
                return replace(self, entities=block)
            case DedupBlock():
                return replace(self, dedup=block)

    def to_json(self) -> bytes:
        key, key_b64 = text_or_base64(self.key)
        return codec.dumps(
            {
                "fields": self.fields,
                "key": key,
                "key_b64": key_b64,
                "source": self.source,
                "version": self.version,
                "hint": self.hint,
                "language": self.language,
                "entities": self.entities,
                "dedup": self.dedup,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Envelope:
        raw = codec.loads(data)
        key: bytes | None = None
        if raw["key_b64"] is not None:
            key = base64.b64decode(raw["key_b64"])
        elif raw["key"] is not None:
            key = str(raw["key"]).encode("utf-8")
        entities = raw["entities"]
        dedup = raw["dedup"]
        return cls(
            fields=raw["fields"],
            key=key,
            source=Source(**raw["source"]),
            version=raw["version"],
            hint=raw["hint"],
            language=None if raw["language"] is None else LanguageBlock(**raw["language"]),
            entities=None if entities is None else _entities(entities),
            dedup=None
            if dedup is None
            else DedupBlock(
                verdict=Verdict(**dedup["verdict"]),
                method=dedup["method"],
                threshold=dedup["threshold"],
            ),
        )

    def original_input(self) -> Fields:
        """The article as its producer sent it, for dead letters a user can replay."""
        if self.hint is None:
            return self.fields
        return {**self.fields, "language": self.hint}

    def enriched(self, completed_ms: int) -> bytes:
        """The output record: the input's fields, then the blocks, then the pipeline's own.

        Stamped with the Kafka timestamp the last stage read, which every stage passes on
        from the input: a redelivered or replayed article gives byte-identical records.
        """
        language, entities, dedup = self.language, self.entities, self.dedup
        if language is None or entities is None or dedup is None:
            raise ValueError("an article reached the output without every stage's block")
        record: dict[str, object] = dict(self.fields)
        record["language"] = language
        record["entities"] = entities.entities
        record["dedup"] = dedup.verdict
        record["pipeline"] = {
            "version": self.version,
            "ingested_at": rfc3339(self.source.timestamp),
            "completed_at": rfc3339(completed_ms),
            "stages": {
                "language": {"detector": language.detector},
                "entities": {
                    "tagger": entities.tagger,
                    "linker": entities.linker,
                    "places": entities.places,
                },
                "dedup": {"method": dedup.method, "threshold": dedup.threshold},
            },
        }
        return codec.dumps(record)


def _entities(raw: dict[str, Any]) -> EntitiesBlock:
    """The entities block from its JSON form; one written before places were linked has none."""
    places = raw.get("places")
    return EntitiesBlock(
        entities=tuple(
            Entity(
                item["text"],
                item["label"],
                item["count"],
                item["aliases"],
                item["spans"],
                None if item.get("link") is None else Link(**item["link"]),
            )
            for item in raw["entities"]
        ),
        tagger=raw["tagger"],
        places=NO_PLACES
        if places is None
        else PlacesSummary(
            places=tuple(PlaceCount(**place) for place in places["places"]),
            main_country=places["main_country"],
        ),
        linker=raw.get("linker"),
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the pipeline could not process, with everything needed to fix and replay it."""

    error_code: str
    """One of invalid_json, bad_encoding, not_an_object, missing_body, invalid_field,
    too_large, stage_error."""
    message: str
    """One human sentence: what was wrong."""
    stage: str
    """The stage that rejected it."""
    source: Source
    """Topic, partition, offset and timestamp of the original message."""
    key: str | None
    """The original key as text when it is valid UTF-8, else null."""
    key_b64: str | None
    """The original key base64-encoded when it is not valid UTF-8, else null."""
    key_truncated: bool
    """True when the key kept here (and the letter's own Kafka key) was cut to fit."""
    payload: str | None
    """The original value as text when it is valid UTF-8, else null."""
    payload_b64: str | None
    """The original value base64-encoded when it is not valid UTF-8, else null."""
    payload_truncated: bool
    """True when the payload kept here was cut to stay under the message limit."""
    failed_at: str
    """When it was rejected, RFC 3339 UTC."""

    def to_json(self) -> bytes:
        return codec.dumps(self)
