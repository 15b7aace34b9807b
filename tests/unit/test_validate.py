"""Each rule of the input contract, without Kafka."""

from __future__ import annotations

import orjson
import pytest

from streams.errors import (
    BadEncoding,
    InvalidField,
    InvalidJson,
    MissingBody,
    NotAnObject,
    RejectedMessage,
    TooLarge,
)
from streams.stages.validate.contract import article_id, parse_article

LIMIT = 1_000


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, InvalidJson),
        (b"{", InvalidJson),
        (b'{"body": NaN}', InvalidJson),
        (b"[" * 2000 + b"]" * 2000, InvalidField),
        (b'{"body": "\xff"}', BadEncoding),
        (b'{"body": "\xed\xa0\x80"}', BadEncoding),
        (b"[]", NotAnObject),
        (b"null", NotAnObject),
        (b"{}", MissingBody),
        (b'{"body": null}', MissingBody),
        (b'{"body": " \\n "}', MissingBody),
        (b'{"body": 1}', InvalidField),
        (b'{"body": "ok", "url": 5}', InvalidField),
        (b'{"body": "ok", "id": ""}', InvalidField),
        (b'{"body": "ok", "published_at": "2024-13-01T00:00:00Z"}', InvalidField),
        (b'{"body": "ok", "published_at": "2024-01-01"}', InvalidField),
        (b'{"body": "\\udc00 alone"}', InvalidField),
        (b'{"\\ud800": 1, "body": "ok"}', InvalidField),
        (orjson.dumps({"body": "é" * (LIMIT // 2 + 1)}), TooLarge),
    ],
)
def test_each_fault_has_its_code(value: bytes | None, error: type[RejectedMessage]) -> None:
    with pytest.raises(error) as raised:
        parse_article(None, value, LIMIT)
    message = str(raised.value)
    assert message.endswith(".") and "\n" not in message


def test_a_valid_article_keeps_unknown_fields_and_gets_an_id() -> None:
    article = parse_article(
        b"key-1",
        b'{"body": "Text", "extra": {"nested": [1, 2]},'
        b' "published_at": "2024-05-01T10:00:00+02:00"}',
        LIMIT,
    )
    assert article["extra"] == {"nested": [1, 2]}
    assert article["id"] == "key-1"


def test_id_field_wins_over_key_and_derived_ids_are_stable() -> None:
    assert parse_article(b"key", b'{"id": "mine", "body": "x"}', LIMIT)["id"] == "mine"
    first = parse_article(None, b'{"title": "T", "body": "B"}', LIMIT)["id"]
    again = parse_article(None, b'{"body": "B", "title": "T"}', LIMIT)["id"]
    other = parse_article(None, b'{"title": "T", "body": "C"}', LIMIT)["id"]
    assert first == again != other
    by_url = article_id({"url": "https://example.org/a", "body": "x"}, None)
    assert by_url == article_id({"url": "https://example.org/a", "body": "y"}, None)


def test_body_at_the_limit_is_accepted() -> None:
    body = "é" * (LIMIT // 2)
    assert parse_article(None, orjson.dumps({"body": body}), LIMIT)["body"] == body
