"""`streams consume`: records of a topic as JSON lines, from the start, without a group."""

from __future__ import annotations

import sys

import orjson

from streams import codec
from streams.errors import RejectedMessage
from streams.kafka.io import Received, read_records
from streams.settings import Settings


def as_json_line(value: bytes | None) -> bytes:
    """JSON values compacted onto one line; anything else as a JSON string, never dropped."""
    if value is None:
        return b"null"
    try:
        return codec.dumps(codec.loads(value))
    except RejectedMessage:
        return orjson.dumps(value.decode("utf-8", errors="backslashreplace"))


async def consume(settings: Settings, topic: str, limit: int | None, idle_timeout: float) -> int:
    count = 0

    def show(record: Received) -> bool:
        nonlocal count
        sys.stdout.buffer.write(as_json_line(record.value) + b"\n")
        sys.stdout.flush()
        count += 1
        return limit is None or count < limit

    if limit is not None and limit <= 0:
        return 0
    await read_records(settings, topic, show, idle_timeout)
    return count
