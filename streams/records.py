"""The records that cross topics: input article, in-flight envelope, output and dead letter.

Articles stay plain dicts because unknown input fields must pass through untouched;
the blocks the pipeline adds, and the envelope and dead letter, are declared here.
The JSON Schemas in `streams/schemas/` describe the same shapes for consumers.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from streams import codec

Article = dict[str, Any]

ENRICHMENT_FIELDS = ("entities", "dedup", "pipeline")
"""Output fields the pipeline adds next to the input's own (`language` is replaced)."""


def text_or_base64(data: bytes | None) -> tuple[str | None, str | None]:
    """Bytes as (text, None) when they are UTF-8, else (None, base64): never lossy."""
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode("ascii")


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


@dataclass(slots=True)
class InFlight:
    """The envelope between stages: the article so far plus what dead letters need."""

    article: Article
    """The input fields, plus the blocks added by the stages done so far."""
    key: bytes | None
    """The original message key, for the dead letters of later stages."""
    source: Source
    """Where the article entered the pipeline."""

    def to_json(self) -> bytes:
        key_text, key_b64 = text_or_base64(self.key)
        return codec.dumps(
            {
                "article": self.article,
                "key": key_text,
                "key_b64": key_b64,
                "source": asdict(self.source),
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> InFlight:
        raw = codec.loads(data)
        key: bytes | None = None
        if raw.get("key_b64") is not None:
            key = base64.b64decode(raw["key_b64"])
        elif raw.get("key") is not None:
            key = raw["key"].encode("utf-8")
        return cls(article=raw["article"], key=key, source=Source(**raw["source"]))

    def original_input(self) -> Article:
        """The article as its producer sent it, for dead letters a user can replay."""
        article = {k: v for k, v in self.article.items() if k not in ENRICHMENT_FIELDS}
        language = article.get("language")
        if isinstance(language, dict):
            hint = language.get("hint")
            if hint is None:
                article.pop("language")
            else:
                article["language"] = hint
        return article


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
        return codec.dumps(asdict(self))
