"""The whole pipeline on the real broker: the seed article, every kind of bad input, accounting."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

import orjson

from streams.files import collect_messages
from tests.integration.conftest import Pipeline
from tests.schemas import validator

SEED = Path(__file__).parents[2] / "seeds" / "000_65e81ee260f6cf05.txt"


def test_seed_article_comes_out_enriched_in_german(pipeline: Pipeline) -> None:
    [(key, value)] = collect_messages([str(SEED)])
    pipeline.produce([(key, value)])
    settings = pipeline.settings
    records = [orjson.loads(v or b"") for _, v in pipeline.collect(settings.topic_enriched, 1)]
    [record] = [r for r in records if r["id"].encode() == key]
    validator("article.enriched.schema.json").validate(record)
    sent = orjson.loads(value)
    assert record["body"] == sent["body"]
    assert record["title"] == sent["title"]
    assert record["language"]["code"] == "de"
    assert record["language"]["confidence"] > 0.9
    assert record["language"]["hint"] is None
    assert record["pipeline"]["completed_at"] == record["pipeline"]["ingested_at"]


BAD_INPUTS: list[tuple[str, bytes, str]] = [
    ("not-json", b"{this is not json", "invalid_json"),
    ("empty-value", b"", "invalid_json"),
    ("not-utf8", b'{"body": "caf\xe9"}', "bad_encoding"),
    ("array", b'[{"body": "a list, not an object"}]', "not_an_object"),
    ("string", b'"just a string"', "not_an_object"),
    ("no-body", b'{"title": "No body here"}', "missing_body"),
    ("empty-body", b'{"title": "Blank", "body": "  \\n\\t "}', "missing_body"),
    ("too-large", orjson.dumps({"body": "x" * 1_000_001}), "too_large"),
    ("body-number", b'{"body": 42}', "invalid_field"),
    ("title-list", b'{"title": ["a"], "body": "Some text."}', "invalid_field"),
    ("id-number", b'{"id": 7, "body": "Some text."}', "invalid_field"),
    ("bad-date", b'{"published_at": "yesterday", "body": "Some text."}', "invalid_field"),
    ("lone-surrogate", b'{"body": "broken \\ud800 text"}', "invalid_field"),
]


def test_bad_inputs_become_dead_letters_and_the_worker_carries_on(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    good = {
        "id": "after-the-bad-ones",
        "title": "Still here",
        "body": "The worker kept going after every bad message it was sent.",
    }
    pipeline.produce([(key.encode(), value) for key, value, _ in BAD_INPUTS])
    pipeline.produce([(b"after-the-bad-ones", orjson.dumps(good))])

    letters = {
        key: orjson.loads(value or b"")
        for key, value in pipeline.collect(settings.topic_dlq, len(BAD_INPUTS))
    }
    check = validator("dead_letter.schema.json")
    for key, value, code in BAD_INPUTS:
        letter = letters[key.encode()]
        check.validate(letter)
        assert letter["error_code"] == code, (key, letter["message"])
        assert letter["stage"] == "validate"
        assert letter["key"] == key
        assert letter["source"]["topic"] == settings.topic_raw
        if code == "bad_encoding":
            assert letter["payload"] is None
            assert letter["payload_b64"]
        else:
            assert letter["payload"] == value.decode()
            assert letter["payload_truncated"] is False

    assert pipeline.enriched(["after-the-bad-ones"])["after-the-bad-ones"]["title"] == "Still here"
    assert all(worker.poll() is None for worker in pipeline.workers)


def test_inputs_at_the_edges_of_the_contract_and_the_article_after_each(
    pipeline: Pipeline,
) -> None:
    """Each edge case ends where the README says, and a valid article still comes out after it.

    Deep nesting and integers beyond 64 bits are legal JSON and pass through unchanged; a
    Kafka timestamp after the year 9999 cannot be written as an RFC 3339 ingested_at.
    """
    settings = pipeline.settings
    huge_key = b"\xfe" + b"\xff" * 1_600_000
    deep = b'{"id": "deep", "body": "Nested fields pass through.", "x": ' + b"[" * 300
    deep += b"]" * 300 + b"}"
    big = b'{"id": "big", "body": "Big numbers pass through.", "n": 123456789012345678901234567890}'
    pipeline.produce([(huge_key, orjson.dumps({"body": "x" * 1_000_001}))])
    pipeline.produce([(b"six-mib", orjson.dumps({"body": "y" * (6 * 1024 * 1024)}))])
    pipeline.produce([(b"deep", deep), (b"big", big)])
    pipeline.produce_at("far-future", {"body": "Sent from the year 10000."}, 253_402_300_800_000)
    after = {"id": "after-edges", "body": "A plain article after the edge cases."}
    pipeline.produce([(b"after-edges", orjson.dumps(after))])

    pipeline.enriched(["deep", "big", "after-edges"])
    raw = dict(pipeline.collect(settings.topic_enriched, 10**6, timeout=3))
    assert b'"x":' + b"[" * 300 + b"]" * 300 in (raw[b"deep"] or b"")
    assert b'"n":123456789012345678901234567890' in (raw[b"big"] or b"")

    letters = [
        orjson.loads(value or b"")
        for _, value in pipeline.collect(settings.topic_dlq, 10**6, timeout=5)
    ]
    by_source = {
        (letter["key"], letter["key_b64"] is not None, letter["error_code"]) for letter in letters
    }
    assert (None, True, "too_large") in by_source
    assert ("six-mib", False, "too_large") in by_source
    assert ("far-future", False, "invalid_field") in by_source
    [huge] = [
        letter for letter in letters if letter["key_b64"] is not None and letter["key_truncated"]
    ]
    assert base64.b64decode(huge["key_b64"]) == huge_key[: settings.max_message_bytes // 8]
    check = validator("dead_letter.schema.json")
    for letter in letters:
        check.validate(letter)
    assert all(worker.poll() is None for worker in pipeline.workers)


def test_every_input_ends_in_output_or_dead_letters_exactly_once(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    articles = [
        (
            f"count-{n}".encode(),
            orjson.dumps(
                {"title": f"Nummer {n}", "body": f"Artikel {n} über das Wetter in Berlin."}
            ),
        )
        for n in range(40)
    ]
    pipeline.produce(articles + [(f"bad-{n}".encode(), b"\xff\xfe") for n in range(10)])
    pipeline.endings({key for key, _ in articles})  # until every stage has done its input
    raw = pipeline.collect(settings.topic_raw, 10**6, timeout=3)
    enriched = pipeline.collect(settings.topic_enriched, 10**6, timeout=3)
    dead = pipeline.collect(settings.topic_dlq, 10**6, timeout=3)
    assert len(raw) == len(enriched) + len(dead)
    out_keys = [key for key, _ in enriched] + [key for key, _ in dead]
    assert len(out_keys) == len(set(out_keys)) == len(raw)
    assert {key for key, _ in articles} <= {key for key, _ in enriched}


TRACE = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]


def test_headers_travel_to_the_output_and_to_dead_letters_and_back_on_replay(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    settings = pipeline.settings
    article = {"id": "traced", "body": "Ein Artikel mit einem traceparent-Header."}
    pipeline.produce(
        [(b"traced", orjson.dumps(article)), (b"to-fix", b'{"title": "Forgot the body"}')],
        headers=[TRACE, TRACE],
    )
    pipeline.enriched(["traced"])
    assert pipeline.headers(settings.topic_enriched, b"traced") == [TRACE]
    [letter] = [
        orjson.loads(value or b"")
        for key, value in pipeline.collect(settings.topic_dlq, 10**6, timeout=5)
        if key == b"to-fix"
    ]
    assert letter["error_code"] == "missing_body"
    assert pipeline.headers(settings.topic_dlq, b"to-fix") == [TRACE]

    fixed = {**orjson.loads(letter["payload"]), "body": "The body, added by an editor."}
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(orjson.dumps({**letter, "payload": orjson.dumps(fixed).decode()}) + b"\n")
    cli = [sys.executable, "-m", "streams", "dlq", "replay"]
    subprocess.run([*cli, "--file", str(edited)], env=pipeline.env, check=True, timeout=60)
    record = pipeline.enriched(["to-fix"])["to-fix"]
    assert record["body"] == "The body, added by an editor."
    assert record["title"] == "Forgot the body"
    assert pipeline.headers(settings.topic_enriched, b"to-fix") == [TRACE]

    subprocess.run([*cli, "--code", "missing_body"], env=pipeline.env, check=True, timeout=60)
    deadline = time.monotonic() + 60
    while len(pipeline.headers(settings.topic_dlq, b"to-fix")) < 2:
        assert time.monotonic() < deadline, "the replayed letter did not come back"
    assert pipeline.headers(settings.topic_dlq, b"to-fix") == [TRACE, TRACE]
