"""How long one article takes from the input topic to a read_committed reader of the output.

Usage (from the repository root, broker running):
    python benchmarks/end_to_end_latency.py [--articles 20] [--gap 1.5] \
        [--guarantee exactly_once|at_least_once] [--commit-interval 1.0]
One worker runs every stage (entity models loaded); articles are sent one at a time, `gap`
seconds apart, so each crosses an idle pipeline. Under exactly_once each stage's output is
visible to the next only when its transaction commits, so the commit interval dominates.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.kafka.io import Received, publish, read_records  # noqa: E402
from streams.settings import Settings, load_settings  # noqa: E402
from tests.integration.conftest import make_pipeline  # noqa: E402


async def measure(settings: Settings, count: int, gap: float) -> list[float]:
    """Seconds from each send's acknowledgement to its enriched record arriving."""
    sent: dict[bytes, float] = {}
    latencies: list[float] = []

    def arrived(record: Received) -> bool:
        if record.key in sent:
            latencies.append(time.perf_counter() - sent[record.key])
        return len(latencies) < count

    reading = asyncio.create_task(
        read_records(settings, settings.topic_enriched, arrived, idle_timeout=120)
    )
    for n in range(count):
        key = f"latency-{n}".encode()
        body = f"Meldung {n}: Der Stadtrat in Köln hat am Abend über den Haushalt beraten."
        await publish(settings, settings.topic_raw, [(key, orjson.dumps({"body": body}))])
        sent[key] = time.perf_counter()
        await asyncio.sleep(gap)
    await reading
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.5)
    parser.add_argument(
        "--guarantee", choices=("exactly_once", "at_least_once"), default="exactly_once"
    )
    parser.add_argument("--commit-interval", type=float, default=1.0)
    args = parser.parse_args()

    pipeline = make_pipeline(
        load_settings(),
        Path(tempfile.mkdtemp(prefix="streams-latency-")),
        STREAMS_PROCESSING_GUARANTEE=args.guarantee,
        STREAMS_COMMIT_INTERVAL_SECONDS=str(args.commit_interval),
    )
    pipeline.start_worker()
    try:
        latencies = asyncio.run(measure(pipeline.settings, args.articles, args.gap))
    finally:
        pipeline.stop_all()
    if len(latencies) < args.articles:
        sys.exit(f"only {len(latencies)} of {args.articles} articles came out")
    quantiles = statistics.quantiles(latencies, n=10)
    print(
        f"| {args.guarantee} | {args.commit_interval:g} s | {len(latencies)} "
        f"| {statistics.median(latencies):.2f} s | {quantiles[-1]:.2f} s | {max(latencies):.2f} s |"
    )


if __name__ == "__main__":
    main()
