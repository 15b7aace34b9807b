"""Articles per second through a real worker on the real broker, whole pipeline or one stage.

Usage (from the repository root, broker running):
    python benchmarks/pipeline_throughput.py [--articles N] [--stage dedup] \
        [--guarantee exactly_once|at_least_once]
Without --stage, raw articles go through every stage; with --stage S, envelopes as the
previous stage would write them are put on S's topic and only S runs. BBC articles from
../shared/data/eval/news are read in place, repeated with a counter to reach N.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.kafka.io import Received, read_records  # noqa: E402
from streams.records import EntitiesBlock, LanguageBlock, RawMessage, Source  # noqa: E402  # noqa: E402
from streams.settings import load_settings  # noqa: E402
from streams.stages.validate import Validation  # noqa: E402
from tests.integration.conftest import make_pipeline  # noqa: E402


def articles(data: Path, count: int) -> list[dict[str, str]]:
    """BBC articles, each copy given its own id and a counter so they stay distinct."""
    lines = (data / "bbc-en" / "bbc_articles.jsonl").read_bytes().splitlines()
    source = [orjson.loads(line) for line in lines]
    return [
        {"id": f"bench-{n}", "title": item["title"], "body": f"{item['text']}\n\nRef {n}."}
        for n, item in zip(range(count), itertools.cycle(source), strict=False)
    ]


def messages(
    batch: list[dict[str, str]], stage: str | None, topic: str
) -> list[tuple[bytes, bytes]]:
    if stage is None:
        return [(a["id"].encode(), orjson.dumps(a)) for a in batch]
    now = int(time.time() * 1000)
    envelopes = []
    validation = Validation(10**6)
    # What the stages before the measured one would have added.
    language = LanguageBlock(code="en", confidence=1.0, detector="given", hint=None)
    entities = EntitiesBlock(entities=(), tagger=None)
    for offset, article in enumerate(batch):
        value = orjson.dumps(article)
        admitted = validation.step(
            RawMessage(article["id"].encode(), value, Source(topic, 0, offset, now))
        )
        ready = admitted.merged(language).merged(entities)
        envelopes.append((article["id"].encode(), ready.to_json()))
    return envelopes


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--stage", choices=("language", "dedup"), default=None)
    parser.add_argument("--data", type=Path, default=REPO / "../shared/data/eval/news")
    parser.add_argument(
        "--guarantee", choices=("exactly_once", "at_least_once"), default="exactly_once"
    )
    args = parser.parse_args()

    pipeline = make_pipeline(
        load_settings(),
        Path(tempfile.mkdtemp(prefix="streams-bench-")),
        STREAMS_PROCESSING_GUARANTEE=args.guarantee,
    )
    settings = pipeline.settings
    worker = pipeline.start_worker(args.stage)
    try:
        target = settings.stage_topics[args.stage] if args.stage else settings.topic_raw
        batch = messages(articles(args.data, args.articles), args.stage, target)
        size = statistics.median(len(value) for _, value in batch)
        arrivals: list[float] = []

        def arrived(record: Received) -> bool:
            arrivals.append(time.perf_counter())
            return len(arrivals) < len(batch)

        started = time.perf_counter()
        pipeline.produce(batch, topic=target)
        produced = time.perf_counter()
        asyncio.run(read_records(settings, settings.topic_enriched, arrived, idle_timeout=60))
        elapsed = arrivals[-1] - started
        print(
            f"| {args.stage or 'all stages'} | {args.guarantee} | {len(batch)} "
            f"| {size / 1024:.1f} KB "
            f"| {len(arrivals)} | {len(arrivals) / elapsed:,.0f} /s "
            f"| {produced - started:.1f} s | {peak_rss_mib(worker.pid):,.0f} MiB |"
        )
    finally:
        pipeline.stop_all()


if __name__ == "__main__":
    main()
