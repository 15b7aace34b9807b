"""What one hop costs the envelope: typed dataclasses against plain dicts and msgspec Structs.

Each stage decodes the envelope it reads and encodes the one it sends. This times that
round trip for the same article (a 2.2 KB body, 20 entities) in three forms:
- dataclasses (streams.records as shipped; orjson writes them natively);
- TypedDicts, i.e. plain dicts (what the pipeline used before: no conversion at all);
- msgspec Structs, encoded with msgspec.to_builtins for orjson.
`msgspec` is not a dependency; the script skips that row without it.

    python benchmarks/envelope_codec.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.records import (
    DedupBlock,
    EntitiesBlock,
    Entity,
    Envelope,
    LanguageBlock,
    Source,
    Verdict,
)

BODY = ("Wladimir Putin traf Kim Jong Un im Kosmodrom Wostotschny. " * 40)[:2200]


def envelope() -> Envelope:
    entities = tuple(
        Entity(f"Name {n}", "PER", 3, [f"N{n}"], [[n, n + 5], [n + 50, n + 55], [n + 90, n + 95]])
        for n in range(20)
    )
    return Envelope(
        fields={"id": "a-1", "title": "Kim trifft Putin", "body": BODY, "source": "site"},
        key=b"a-1",
        source=Source("articles.raw", 1, 42, 1_700_000_000_123),
        version="0.1.0",
        language=LanguageBlock("de", 0.98, "fasttext-lid176", None),
        entities=EntitiesBlock(entities, "de_streams_ner-0.1.0"),
        dedup=DedupBlock(Verdict("unique", None, None), "minhash-lsh", 0.5),
    )


def dataclass_hop(data: bytes) -> bytes:
    return Envelope.from_json(data).to_json()


def dict_hop(data: bytes) -> bytes:
    return orjson.dumps(orjson.loads(data))


try:
    import msgspec
except ImportError:  # not a dependency: the row is skipped
    msgspec = None
else:

    class MEntity(msgspec.Struct):
        text: str
        label: str
        count: int
        aliases: tuple[str, ...]
        spans: tuple[tuple[int, int], ...]

    class MEntities(msgspec.Struct):
        entities: tuple[MEntity, ...]
        tagger: str | None

    class MEnvelope(msgspec.Struct):
        fields: dict[str, Any]
        key: str | None
        key_b64: str | None
        source: dict[str, Any]
        version: str
        hint: str | None
        language: dict[str, Any] | None
        entities: MEntities | None
        dedup: dict[str, Any] | None


def msgspec_hop(data: bytes) -> bytes:
    parsed = msgspec.convert(orjson.loads(data), MEnvelope)
    return orjson.dumps(msgspec.to_builtins(parsed))


def median_microseconds(hop: Callable[[bytes], bytes], data: bytes, rounds: int) -> float:
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            hop(data)
        samples.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    data = envelope().to_json()
    rows = [
        ("dataclasses (shipped)", median_microseconds(dataclass_hop, data, args.rounds)),
        ("plain dicts / TypedDict", median_microseconds(dict_hop, data, args.rounds)),
    ]
    if msgspec is not None:
        rows.append(("msgspec Structs", median_microseconds(msgspec_hop, data, args.rounds)))
    print(f"envelope of {len(data):,} bytes, decode + encode per hop, median of 5 x {args.rounds}")
    print("| form | µs per hop |")
    print("|---|---|")
    for name, micros in rows:
        print(f"| {name} | {micros:.1f} |")


if __name__ == "__main__":
    main()
