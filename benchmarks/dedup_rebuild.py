"""How long the dedup stage takes to rebuild its in-memory lookups after faust restored its
tables, and what they cost in memory, for a week of articles.

Usage: python benchmarks/dedup_rebuild.py [--per-day 50000] [--days 7] [--root-share 0.6]

The tables are plain dicts here, filled as the stage fills them, with random 16-bit
signatures (rebuilding decodes each and computes its bucket keys: the same work for any
text, and distinct signatures give the bucket map its real size); the restore of the
changelog itself, which faust does before, is not counted. Memory is the growth of this
process's peak resident set.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.stages.dedup.index import DedupIndex  # noqa: E402
from streams.stages.dedup.similarity import NUM_PERM, encode_signature  # noqa: E402

DAY = 86400.0


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=50000)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--root-share", type=float, default=0.6)
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    articles = int(args.per_day * args.days)
    roots_wanted = int(articles * args.root_share)
    verdicts: dict[str, dict[str, object]] = {}
    roots: dict[str, dict[str, object]] = {}
    start = 1.7e9
    for n in range(articles):
        ts = start + n * args.days * DAY / articles
        article_id = f"article-{n:09d}"
        if n < roots_wanted:
            sig = rng.integers(0, 2**16, NUM_PERM, dtype=np.uint16)
            roots[article_id] = {"ts": ts, "fp": f"{n:032x}", "sig": encode_signature(sig)}
            verdicts[article_id] = {"ts": ts, "status": "unique"}
        else:
            verdicts[article_id] = {"ts": ts, "status": "near_duplicate", "of": "article-0"}
    before = rss_mib()
    started = time.perf_counter()
    index = DedupIndex(verdicts=verdicts, roots=roots, threshold=0.5, retention_seconds=7 * DAY)
    seconds = time.perf_counter() - started
    print(f"| {articles:,} | {len(roots):,} | {seconds:.1f} s | {rss_mib() - before:,.0f} MiB |")
    assert index.candidates("none", [], start) == []


if __name__ == "__main__":
    main()
