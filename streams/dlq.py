"""The one place a message becomes a dead letter."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson

from streams.errors import RejectedMessage
from streams.records import DeadLetter, InFlight, RawMessage, Source

HEADROOM = 64 * 1024
"""Bytes kept free under the message limit for the dead letter's own fields."""


def key_text(key: bytes | None) -> str | None:
    """A key as text; undecodable bytes are escaped rather than lost."""
    if key is None:
        return None
    return key.decode("utf-8", errors="backslashreplace")


def dead_letter(
    *,
    code: str,
    message: str,
    stage: str,
    source: Source,
    key: bytes | None,
    value: bytes | None,
    max_bytes: int,
) -> DeadLetter:
    """Wrap the original message so it can be read, fixed and replayed, within `max_bytes`."""
    value = value or b""
    budget = max_bytes - HEADROOM
    try:
        text: str | None = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        # JSON escaping can grow text up to six-fold (control characters become \u00XX).
        kept = text if len(text) * 6 <= budget else _cut_text(text, budget)
        payload, payload_b64, truncated = kept, None, len(kept) < len(text)
    else:
        raw = value[: budget * 3 // 4]
        payload, payload_b64, truncated = (
            None,
            base64.b64encode(raw).decode(),
            len(raw) < len(value),
        )
    return DeadLetter(
        error_code=code,
        message=message,
        stage=stage,
        source=source,
        key=key_text(key),
        payload=payload,
        payload_b64=payload_b64,
        payload_truncated=truncated,
        failed_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )


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
) -> DeadLetter:
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
            flight = InFlight.from_json(message.value or b"")
        except (ValueError, KeyError, TypeError):
            pass
        else:
            source = flight.source
            key = None if flight.key is None else flight.key.encode("utf-8", "surrogatepass")
            value = orjson.dumps(flight.original_input())
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
