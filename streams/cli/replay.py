"""`streams dlq replay`: dead letters back to the input topic, edited or as they were."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from streams.errors import ConfigError
from streams.kafka.io import Message, publish, read_records
from streams.settings import Settings


def original_message(letter: dict[str, Any]) -> Message | None:
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


def letters_from_file(path: Path) -> list[dict[str, Any]]:
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


async def letters_with_codes(settings: Settings, codes: Iterable[str]) -> list[dict[str, Any]]:
    """Every dead letter in the topic whose error code is one of `codes`."""
    wanted = set(codes)
    found: list[dict[str, Any]] = []

    def keep(key: bytes | None, value: bytes | None) -> bool:
        letter = orjson.loads(value or b"null")
        if isinstance(letter, dict) and letter.get("error_code") in wanted:
            found.append(letter)
        return True

    await read_records(settings, settings.topic_dlq, keep, idle_timeout=2.0)
    return found


async def replay(settings: Settings, letters: list[dict[str, Any]]) -> tuple[int, int]:
    """Send the letters' messages to the input topic; return (sent, skipped as truncated)."""
    messages = [message for letter in letters if (message := original_message(letter))]
    await publish(settings, settings.topic_raw, messages)
    return len(messages), len(letters) - len(messages)
