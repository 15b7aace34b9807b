"""The input contract: raw bytes become an article's fields, or the reason they cannot."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from streams import codec
from streams.errors import (
    BadEncoding,
    InvalidField,
    InvalidJson,
    MissingBody,
    NotAnObject,
    TooLarge,
)
from streams.records import EPOCH, Fields

TEXT_FIELDS = ("id", "url", "source", "title", "published_at", "language")
MIN_TIMESTAMP_MS = round((datetime(1, 1, 1, tzinfo=UTC) - EPOCH).total_seconds() * 1000)
MAX_TIMESTAMP_MS = round(
    (datetime(9999, 12, 31, 23, 59, 59, 999000, UTC) - EPOCH).total_seconds() * 1000
)
"""Kafka timestamps an RFC 3339 `ingested_at` can express (four-digit years)."""
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def article_id(article: Fields, key: str | None) -> str:
    """The id field wins over the key; without both, a stable hash of url, else title and body."""
    explicit = article.get("id")
    if isinstance(explicit, str) and explicit.strip():
        return explicit
    if key:
        return key
    url = article.get("url")
    basis = f"url\0{url}" if url else f"text\0{article.get('title') or ''}\0{article.get('body')}"
    return hashlib.blake2b(basis.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def parse_article(key: bytes | None, value: bytes | None, max_body_bytes: int) -> Fields:
    """Decode and check one raw message; raise the RejectedMessage that names its fault."""
    if not value:
        raise InvalidJson("The message has no value; an article must be a JSON object.")
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadEncoding(
            f"The message is not valid UTF-8 (byte {exc.start} is invalid)."
        ) from None
    article = codec.loads(value)
    if not isinstance(article, dict):
        kind = type(article).__name__.replace("dict", "object").replace("NoneType", "null")
        raise NotAnObject(f"The message is JSON {kind}, but an article must be a JSON object.")
    _check_fields(article, max_body_bytes)
    article["id"] = article_id(article, _decoded_key(key))
    return article


def _decoded_key(key: bytes | None) -> str | None:
    if not key:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _check_fields(article: Fields, max_body_bytes: int) -> None:
    for name in TEXT_FIELDS:
        value = article.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidField(f"The field {name!r} must be a string, not {_json_type(value)}.")
    explicit = article.get("id")
    if isinstance(explicit, str) and not explicit.strip():
        raise InvalidField("The field 'id' must not be empty when given.")
    published = article.get("published_at")
    if isinstance(published, str) and not _is_rfc3339(published):
        raise InvalidField(f"The field 'published_at' is not an RFC 3339 time: {published[:40]!r}.")
    body = article.get("body")
    if body is None:
        raise MissingBody("The article has no 'body' field.")
    if not isinstance(body, str):
        raise InvalidField(f"The field 'body' must be a string, not {_json_type(body)}.")
    if not body.strip():
        raise MissingBody("The article's 'body' is empty.")
    size = len(body.encode("utf-8"))
    if size > max_body_bytes:
        raise TooLarge(f"The body has {size:,} UTF-8 bytes, over the limit of {max_body_bytes:,}.")


def _is_rfc3339(value: str) -> bool:
    if not RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "an array"}
    return names.get(type(value), "an object" if isinstance(value, dict) else "null")


def check_timestamp(timestamp_ms: int) -> None:
    """An article's event time must be one `ingested_at` can state in RFC 3339."""
    if not MIN_TIMESTAMP_MS <= timestamp_ms <= MAX_TIMESTAMP_MS:
        raise InvalidField(
            f"The message's Kafka timestamp ({timestamp_ms} ms) is outside the years 1 to 9999, "
            "which an RFC 3339 ingested_at cannot express."
        )
