"""JSON in and out: orjson, and the standard library for what orjson cannot keep exactly.

Fields the pipeline does not know pass through untouched, so they must survive a round
trip: orjson reads integers beyond 64 bits as floats (losing digits) and writes at most
254 levels of nesting, both legal JSON that a producer may send.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import orjson

from streams.errors import InvalidField, InvalidJson

_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
"""Where integers may not fit 64 bits (19 digits in a row, once every digit reads 0), the
input is read by the standard library; a translate and a search cost far less than a regex."""


def loads(data: bytes) -> Any:
    """Parse JSON, keeping every integer exact; raise the RejectedMessage that names the fault."""
    if _LONG_NUMBER not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            reason = str(error)
        if "surrogate" not in reason and "depth" not in reason:
            raise InvalidJson(f"The message is not valid JSON ({reason}).")
    return _exact(data)


def _exact(data: bytes) -> Any:
    try:
        value = json.loads(data, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise InvalidField("The article nests JSON values too deeply to be processed.") from None
    except ValueError as error:
        raise InvalidJson(f"The message is not valid JSON ({error}).") from None
    _check_text(value)
    return value


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise InvalidField(f"The number {text[:40]} is too large to be represented.")
    return number


def _check_text(value: Any) -> None:
    """Lone surrogates decode from JSON escapes but are not text (DESIGN: invalid_field)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_string(key)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(
            "A JSON string escape decodes to a lone surrogate, which is not valid text."
        ) from None


def dumps(value: Any) -> bytes:
    """Serialise compactly; values orjson refuses (big integers, deep nesting) still go out."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        pass
    try:
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain
        )
    except RecursionError:
        raise InvalidField("The article nests JSON values too deeply to be written out.") from None
    return text.encode("utf-8")


def _plain(value: object) -> dict[str, object]:
    """Dataclasses as orjson writes them: their fields, in order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} is not JSON")
