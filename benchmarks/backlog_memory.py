"""Peak worker memory with a large backlog: does input faster than processing stay bounded?

Usage (from the repository root, broker running):
    python benchmarks/backlog_memory.py [--articles 100000] [--seconds 90]
Queues the articles first, then starts one worker on every stage and samples its resident
memory each second while it works through the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.kafka.offsets import OffsetReader  # noqa: E402
from streams.settings import load_settings  # noqa: E402
from tests.integration.conftest import make_pipeline  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def processed(settings_env: dict[str, str]) -> int:
    settings = load_settings(settings_env)
    async with OffsetReader(settings) as offsets:
        progress = await offsets.progress(settings.app_id, [settings.topic_raw])
    return sum(item.messages - item.lag for item in progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=90)
    args = parser.parse_args()
    pipeline = make_pipeline(load_settings(), Path(tempfile.mkdtemp(prefix="streams-backlog-")))
    batch = [
        (f"b-{n}".encode(), orjson.dumps({"body": f"Meldung {n}: Der Rat tagte über Punkt {n}."}))
        for n in range(args.articles)
    ]
    started = time.perf_counter()
    for chunk in range(0, len(batch), 10_000):
        pipeline.produce(batch[chunk : chunk + 10_000])
    print(f"queued {len(batch):,} articles in {time.perf_counter() - started:.1f} s")
    worker = pipeline.start_worker()
    try:
        samples = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            samples.append(rss_mib(worker.pid))
            time.sleep(1)
        done = asyncio.run(processed(pipeline.env))
        print(
            f"| {args.articles:,} queued | {args.seconds:.0f} s | {done:,} validated "
            f"| RSS at ready {samples[0]:,.0f} MiB | peak {max(samples):,.0f} MiB "
            f"| last {samples[-1]:,.0f} MiB |"
        )
    finally:
        pipeline.stop_all()


if __name__ == "__main__":
    main()
