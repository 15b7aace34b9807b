"""Dead letters always fit in a message and never lose what can be kept of the original."""

from __future__ import annotations

import base64

import orjson
import pytest

from streams.dlq import HEADROOM, dead_letter, minimal_letter, reject
from streams.errors import TooLarge
from streams.records import Envelope, RawMessage, Source
from tests.schemas import validator

MIB = 1024 * 1024
SOURCE = Source("articles.raw", 1, 42, 1_700_000_000_000)


def letter_for(key: bytes | None, value: bytes | None, max_bytes: int = 8 * MIB):  # type: ignore[no-untyped-def]
    return dead_letter(
        code="too_large",
        message="Too large.",
        stage="validate",
        source=SOURCE,
        key=key,
        value=value,
        max_bytes=max_bytes,
    )


def test_a_huge_key_that_is_not_utf8_is_cut_and_encoded_and_the_letter_fits() -> None:
    key = b"\xff" * 1_600_000
    value = orjson.dumps({"body": "\u0001" * 1_000_001})
    letter = letter_for(key, value)
    record = letter.record
    assert record.key is None and record.key_b64 is not None and record.key_truncated
    assert base64.b64decode(record.key_b64) == letter.key == key[: 8 * MIB // 8]
    assert len(letter.key or b"") + len(letter.value) <= 8 * MIB - HEADROOM // 2
    assert record.payload_truncated and record.payload is not None
    assert value.decode().startswith(record.payload)


def test_a_utf8_key_is_cut_between_characters_and_stays_text() -> None:
    key = "ä".encode() * MIB
    letter = letter_for(key, b"{}")
    assert letter.record.key_truncated and letter.record.key_b64 is None
    assert letter.record.key is not None and set(letter.record.key) == {"ä"}
    assert letter.key == letter.record.key.encode()


def test_a_small_letter_keeps_key_and_payload_whole() -> None:
    letter = letter_for(b"id-1", b"\xfe\xff broken")
    record = letter.record
    assert (record.key, record.key_b64, record.key_truncated) == ("id-1", None, False)
    assert base64.b64decode(record.payload_b64 or "") == b"\xfe\xff broken"
    assert not record.payload_truncated


def test_the_minimal_letter_keeps_code_stage_and_source_only() -> None:
    full = letter_for(b"id-1", b"payload")
    minimal = minimal_letter(full)
    assert minimal.key is None
    assert (minimal.record.error_code, minimal.record.stage, minimal.record.source) == (
        "too_large",
        "validate",
        SOURCE,
    )
    assert minimal.record.payload is None and minimal.record.payload_truncated
    assert orjson.loads(minimal.value)["key_truncated"] is True


@pytest.mark.parametrize("first_stage", [True, False])
def test_a_rejected_envelope_points_at_the_original_message(first_stage: bool) -> None:
    original = Source("articles.raw", 3, 7, 1_700_000_000_000)
    arrived = Envelope(
        fields={"id": "a", "body": "text"}, key=b"\xffkey", source=original, version="1", hint="de"
    )
    message = RawMessage(b"a", arrived.to_json(), Source("articles.language", 0, 9, 1))
    letter = reject(
        stage="language",
        error=TooLarge("Too large."),
        first_stage=first_stage,
        message=message,
        max_bytes=MIB,
    )
    if first_stage:
        assert letter.record.source == message.source
        return
    assert letter.record.source == original
    assert letter.key == b"\xffkey"
    assert orjson.loads(letter.record.payload or "") == {
        "id": "a",
        "body": "text",
        "language": "de",
    }


def test_every_kind_of_letter_matches_the_shipped_schema() -> None:
    check = validator("dead_letter.schema.json")
    text = letter_for(b"id", b'{"body": 1}')
    binary = letter_for(b"\xff", b"\xff")
    for letter in (text, binary, minimal_letter(text), minimal_letter(binary)):
        check.validate(orjson.loads(letter.value))
