"""`streams dlq replay`: dead letters back to the input topic, edited or as they were."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from streams.errors import ConfigError
from streams.kafka.io import Headers, Message, Received, publish, read_records
from streams.settings import Settings

Letter = dict[str, Any]
"""A dead letter as JSON: see DESIGN.md and streams/schemas."""


def original_message(letter: Letter) -> Message | None:
    """The message a dead letter holds, or None when only a truncated part of it was kept."""
    if letter.get("payload_truncated"):
        return None
    key = letter.get("key")
    if letter.get("payload") is not None:
        value = str(letter["payload"]).encode("utf-8", "surrogatepass")
    elif letter.get("payload_b64") is not None:
        value = base64.b64decode(letter["payload_b64"])
    else:
        return None
    return (None if key is None else str(key).encode("utf-8", "surrogatepass"), value)


def letters_from_file(path: Path) -> list[Letter]:
    """Dead letters as `streams consume --topic articles.dlq` prints them, one per line."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    letters = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            letter = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ConfigError(f"{path}:{number} is not a JSON dead letter") from None
        if not isinstance(letter, dict) or "error_code" not in letter:
            raise ConfigError(f"{path}:{number} is not a dead letter (no error_code)")
        letters.append(letter)
    return letters


def _origin(letter: Letter) -> tuple[object, object, object]:
    """Where the letter's message was first read: unique among the dead letters of a topic."""
    source = letter.get("source") or {}
    return (source.get("topic"), source.get("partition"), source.get("offset"))


async def dead_letters(
    settings: Settings, wanted: Callable[[Letter], bool], count: int | None = None
) -> list[tuple[Letter, Headers]]:
    """The dead letters in the topic that are `wanted`, with the Kafka headers of their
    original messages; the read stops once `count` were found (a DLQ may be large)."""
    found: list[tuple[Letter, Headers]] = []

    def keep(record: Received) -> bool:
        letter = orjson.loads(record.value or b"null")
        if isinstance(letter, dict) and wanted(letter):
            found.append((letter, list(record.headers)))
        return count is None or len(found) < count

    await read_records(settings, settings.topic_dlq, keep, idle_timeout=2.0)
    return found


async def with_codes(settings: Settings, codes: Iterable[str]) -> list[tuple[Letter, Headers]]:
    """The letters in the topic whose error code is one of `codes`."""
    wanted = set(codes)
    return await dead_letters(settings, lambda letter: letter.get("error_code") in wanted)


async def with_headers(
    settings: Settings, edited: list[Letter]
) -> tuple[list[tuple[Letter, Headers]], int]:
    """Edited letters with the headers of the dead letter each was edited from, found by
    its source; also how many were not found (sent without headers)."""
    origins = {_origin(letter) for letter in edited}
    letters = await dead_letters(settings, lambda letter: _origin(letter) in origins, len(origins))
    headers = {_origin(letter): kept for letter, kept in letters}
    paired = [(letter, headers.get(_origin(letter), [])) for letter in edited]
    return paired, sum(_origin(letter) not in headers for letter in edited)


async def replay(settings: Settings, letters: list[tuple[Letter, Headers]]) -> tuple[int, int]:
    """Send the letters' messages, with their headers, to the input topic; return (sent,
    skipped as truncated)."""
    kept = [
        (message, headers)
        for letter, headers in letters
        if (message := original_message(letter)) is not None
    ]
    await publish(
        settings,
        settings.topic_raw,
        [message for message, _ in kept],
        [headers for _, headers in kept],
    )
    return len(kept), len(letters) - len(kept)
