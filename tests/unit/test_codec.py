"""JSON that orjson alone would change or refuse still passes through exactly."""

from __future__ import annotations

import json

import orjson
import pytest

from streams import codec
from streams.errors import InvalidField, InvalidJson


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    data = b'{"body": "x", "big": 123456789012345678901234567890, "neg": -9223372036854775809}'
    value = codec.loads(data)
    assert value["big"] == 123456789012345678901234567890
    assert codec.dumps(value) == data.replace(b": ", b":").replace(b", ", b",")


def test_nesting_orjson_cannot_write_still_round_trips() -> None:
    data = b'{"body":"x","deep":' + b"[" * 300 + b"]" * 300 + b"}"
    assert codec.dumps(codec.loads(data)) == data


def test_digits_inside_strings_take_the_exact_path_with_the_same_result() -> None:
    data = orjson.dumps({"body": "call 0049301234567890123", "n": 1.5, "t": True})
    assert codec.loads(data) == orjson.loads(data)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b'{"body": "x", "n": 1e400, "big": 12345678901234567890123}', InvalidField),
        (b'{"body": "\\ud800", "big": 12345678901234567890123}', InvalidField),
        (b'{"body": NaN, "big": 12345678901234567890123}', InvalidJson),
        (b'{"body": ', InvalidJson),
        (b"[" * 1100 + b"]" * 1100, InvalidField),
    ],
)
def test_what_cannot_be_kept_exactly_is_refused_with_a_reason(
    data: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        codec.loads(data)


def test_output_matches_the_standard_library_where_orjson_cannot_write() -> None:
    value = {"a": 2**70, "text": "ä\n\u0001", "f": 0.1}
    assert (
        codec.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    )
