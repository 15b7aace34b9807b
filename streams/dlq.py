"""The one place a message becomes a dead letter, and always one that fits in a message."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from streams import codec
from streams.errors import RejectedMessage
from streams.records import DeadLetter, Envelope, RawMessage, Source, text_or_base64

HEADROOM = 64 * 1024
"""Bytes kept free under the message limit for the letter's own fields and record overhead."""
KEY_SHARE = 8
"""A letter keeps at most this fraction (1/8) of the message limit of the original key."""


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter and the Kafka key it is sent under (the original key, cut to fit)."""

    key: bytes | None
    record: DeadLetter

    @property
    def value(self) -> bytes:
        return self.record.to_json()


def dead_letter(
    *,
    code: str,
    message: str,
    stage: str,
    source: Source,
    key: bytes | None,
    value: bytes | None,
    max_bytes: int,
) -> Letter:
    """Wrap the original message so it can be read, fixed and replayed, within `max_bytes`.

    The key counts twice against the limit (as the letter's Kafka key and inside the
    letter), so it is cut first; the payload gets what is left.
    """
    kept_key, key_truncated = _cut_key(key, max_bytes // KEY_SHARE)
    key_text, key_b64 = text_or_base64(kept_key)
    key_field = len(orjson.dumps(key_text)) if key_text is not None else len(key_b64 or "")
    budget = max_bytes - HEADROOM - len(kept_key or b"") - key_field
    payload, payload_b64, payload_truncated = _payload(value or b"", budget)
    return Letter(
        key=kept_key,
        record=DeadLetter(
            error_code=code,
            message=message,
            stage=stage,
            source=source,
            key=key_text,
            key_b64=key_b64,
            key_truncated=key_truncated,
            payload=payload,
            payload_b64=payload_b64,
            payload_truncated=payload_truncated,
            failed_at=_now(),
        ),
    )


def minimal_letter(letter: Letter) -> Letter:
    """What goes instead when a letter cannot be sent: code, stage, source, and no key."""
    record = letter.record
    return Letter(
        key=None,
        record=DeadLetter(
            error_code=record.error_code,
            message=record.message,
            stage=record.stage,
            source=record.source,
            key=None,
            key_b64=None,
            key_truncated=record.key is not None or record.key_b64 is not None,
            payload=None,
            payload_b64=None,
            payload_truncated=True,
            failed_at=record.failed_at,
        ),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cut_key(key: bytes | None, limit: int) -> tuple[bytes | None, bool]:
    """At most `limit` bytes of the key; a UTF-8 key is cut between characters, staying text."""
    if key is None or len(key) <= limit:
        return key, False
    kept = key[:limit]
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        return kept, True
    return kept.decode("utf-8", errors="ignore").encode("utf-8"), True


def _payload(value: bytes, budget: int) -> tuple[str | None, str | None, bool]:
    """(payload, payload_b64, truncated): the value as text if it is UTF-8, cut to `budget`."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raw = value[: max(0, budget) * 3 // 4]
        return None, base64.b64encode(raw).decode("ascii"), len(raw) < len(value)
    # JSON escaping can grow text up to six-fold (control characters become \u00XX).
    kept = text if len(text) * 6 <= budget else _cut_text(text, budget)
    return kept, None, len(kept) < len(text)


def _cut_text(text: str, budget: int) -> str:
    """The longest prefix whose JSON encoding fits the budget, in whole code points."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(orjson.dumps(text[:middle])) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def reject(
    *, stage: str, error: Exception, first_stage: bool, message: RawMessage, max_bytes: int
) -> Letter:
    """The dead letter for a message a stage could not process.

    Messages past the first stage are envelopes: their dead letter points at the
    original input message and carries the article as its producer sent it, so
    that `streams dlq replay` can send it back unchanged.
    """
    code = error.code if isinstance(error, RejectedMessage) else "stage_error"
    text = str(error) if isinstance(error, RejectedMessage) else _stage_error_text(stage, error)
    source, key, value = message.source, message.key, message.value
    if not first_stage:
        try:
            envelope = Envelope.from_json(message.value or b"")
            value = codec.dumps(envelope.original_input())
        except (ValueError, KeyError, TypeError, RejectedMessage):
            pass
        else:
            source, key = envelope.source, envelope.key
    return dead_letter(
        code=code,
        message=text,
        stage=stage,
        source=source,
        key=key,
        value=value,
        max_bytes=max_bytes,
    )


def _stage_error_text(stage: str, error: Exception) -> str:
    detail = str(error).splitlines()[0][:300] if str(error) else "no detail"
    return f"The {stage} stage failed with {type(error).__name__}: {detail}."
