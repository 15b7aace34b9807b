"""Articles from files (.txt, .json, .jsonl), as their producer would send them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson

from streams.errors import ConfigError
from streams.kafka.io import Message
from streams.stages.validate.contract import article_id

SUFFIXES = (".txt", ".json", ".jsonl")


def text_article(text: str) -> dict[str, str]:
    """Plain text: the title on the first line, a blank line, then the body."""
    head, sep, rest = text.strip("\ufeff\n").partition("\n\n")
    if sep and "\n" not in head.strip():
        return {"title": head.strip(), "body": rest.strip("\n")}
    return {"body": text.strip("\ufeff\n")}


def _key_for(value: bytes) -> bytes | None:
    """Key valid articles by id so each stays on one partition; leave the rest to validation."""
    try:
        article = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(article, dict) or not isinstance(article.get("body"), str):
        return None
    if article.get("id") is not None and not isinstance(article.get("id"), str):
        return None
    return article_id(article, None).encode()


def _files(paths: Sequence[str]) -> Iterable[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise ConfigError(f"no such file or folder: {name}")


def messages_from(path: Path) -> list[Message]:
    """One message per .txt or .json file, one per line of .jsonl; bad JSON is sent as it is."""
    data = path.read_bytes()
    if path.suffix == ".txt":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path} is not UTF-8 text") from None
        value = orjson.dumps(text_article(text))
        return [(_key_for(value), value)]
    if path.suffix == ".jsonl":
        lines = [line.strip() for line in data.splitlines()]
        return [(_key_for(line), line) for line in lines if line]
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return [(None, data)]
    if isinstance(parsed, list):
        values = [orjson.dumps(item) for item in parsed]
        return [(_key_for(value), value) for value in values]
    return [(_key_for(data), data)]


def collect_messages(paths: Sequence[str]) -> list[Message]:
    return [message for path in _files(paths) for message in messages_from(path)]
