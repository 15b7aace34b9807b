"""Dedup quality and speed on real news: edited copies, exact groups and distinct controls.

Usage (from the repository root): python benchmarks/dedup_eval.py [--data DIR]
Reads the evaluation set in place and prints a Markdown summary for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.records import Verdict  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stages.dedup import similarity as sim  # noqa: E402
from streams.stages.dedup.index import DedupIndex  # noqa: E402

THRESHOLD = Settings().dedup_threshold

SEED = 20240601
MIN_WORDS = 80
"""Originals shorter than this are not sampled: an 80-word article has ~78 shingles, and one edit
already moves its similarity by several points."""
DATASET_NEAR_PAIR = 0.3
"""Articles that already resemble another article this much are left out of originals and
controls: they are the data set's own near duplicates, which have no ground truth here."""

CHANGE_TYPES = {
    "a": "site debris added at top and bottom",
    "b": "one paragraph dropped",
    "c": "last 15% cut",
    "d": "5% of words edited",
    "e": "10% of words edited",
    "f": "title changed only (body identical)",
}
RECALL_TARGETS = {"a": 0.95, "b": 0.95, "c": 0.95, "d": 0.95, "e": 0.90, "f": 0.95}
PRECISION_TARGET = 0.99
SPEED_TARGET = 2000.0

DEBRIS_TOP = {
    "en": [
        "Share this article",
        "Skip to main content",
        "{n} min read",
        "Published {day} {month} 2024",
        "Updated {hour}:{minute} GMT",
        "source site-{n}",
        "Advertisement",
        "By our staff reporter",
        "Follow us on Twitter and Facebook",
    ],
    "de": [
        "Ausgegeben am: {day}.{mon}.2024",
        "{n} Minuten",
        "Lesezeit: {n} Min.",
        "Artikel teilen",
        "source site-{n}",
        "Anzeige",
        "Aktualisiert um {hour}:{minute} Uhr",
        "Zum Inhalt springen",
    ],
}
DEBRIS_BOTTOM = {
    "en": [
        "Leave a Reply",
        "Share this article",
        "Related articles",
        "Sign up for our newsletter",
        "Comments ({n})",
        "Tags: news, {category}",
        "Copyright (c) 2024 site-{n}. All rights reserved.",
        "We use cookies to improve your experience on our site. By continuing to browse you "
        "agree to our use of cookies. Find out more in our cookie policy.",
        "Report an error in this article",
    ],
    "de": [
        "Kommentar schreiben",
        "Diesen Artikel teilen",
        "Mehr zum Thema",
        "Newsletter abonnieren",
        "Kommentare ({n})",
        "Schlagworte: {category}",
        "(c) 2024 site-{n} Alle Rechte vorbehalten",
        "Wir verwenden Cookies, um Ihnen ein optimales Nutzungserlebnis zu bieten. Wenn Sie "
        "weiter auf der Seite bleiben, stimmen Sie der Verwendung von Cookies zu.",
        "Fehler im Artikel melden",
    ],
}
MONTHS = ["January", "March", "May", "July", "September", "November"]


@dataclass(frozen=True)
class Article:
    """One evaluation article."""

    id: str
    lang: str
    category: str
    text: str


@dataclass(frozen=True)
class Item:
    """One message fed to the index, with the verdict it should get."""

    id: str
    body: str
    kind: str
    """original, control, group, or a change type letter."""
    expected_root: str | None
    """The root it duplicates; None when it must be unique."""


def load(data: Path) -> tuple[list[Article], list[list[str]]]:
    """Articles of both languages and the BBC exact-duplicate groups, read in place."""
    articles = []
    for name in ("bbc-en/bbc_articles.jsonl", "10kgnad-de/10kgnad_test.jsonl"):
        with (data / name).open(encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                articles.append(Article(row["id"], row["lang"], row["category"], row["text"]))
    groups = json.loads((data / "bbc-en/bbc_exact_duplicate_groups.json").read_text("utf-8"))
    return articles, groups


def shingle_set(text: str) -> set[int]:
    """Exact shingle set, for the true Jaccard similarity the MinHash estimate is judged by."""
    return set(sim.shingle_hashes(sim.normalise(text)).tolist())


def jaccard(first: set[int], second: set[int]) -> float:
    """Exact Jaccard similarity of two shingle sets."""
    return len(first & second) / len(first | second) if first or second else 1.0


def screen(
    articles: list[Article], shingles: dict[str, set[int]], groups: list[list[str]]
) -> tuple[list[float], set[str]]:
    """Same-category similarities of distinct articles, and the ids in near pairs of the data."""
    grouped = {frozenset(pair) for group in groups for pair in itertools.combinations(group, 2)}
    by_category: dict[tuple[str, str], list[str]] = defaultdict(list)
    for article in articles:
        by_category[(article.lang, article.category)].append(article.id)
    values: list[float] = []
    near: set[str] = set()
    for ids in by_category.values():
        for first, second in itertools.combinations(ids, 2):
            if frozenset((first, second)) in grouped:
                continue
            value = jaccard(shingles[first], shingles[second])
            values.append(value)
            if value >= DATASET_NEAR_PAIR:
                near |= {first, second}
    return values, near


def debris(article: Article, rng: random.Random) -> str:
    """The article between a few lines of site furniture, varied per copy."""
    fields = {
        "n": rng.randint(2, 99),
        "day": rng.randint(1, 28),
        "mon": rng.randint(1, 12),
        "month": rng.choice(MONTHS),
        "hour": rng.randint(0, 23),
        "minute": f"{rng.randint(0, 59):02d}",
        "category": article.category,
    }
    top = rng.sample(DEBRIS_TOP[article.lang], rng.randint(1, 3))
    bottom = rng.sample(DEBRIS_BOTTOM[article.lang], rng.randint(2, 4))
    lines = [line.format(**fields) for line in top] + [article.text]
    return "\n".join(lines + [line.format(**fields) for line in bottom])


def drop_paragraph(text: str, rng: random.Random) -> str:
    """Drop one paragraph other than the lead; single-block texts (10kGNAD) are cut into five
    runs of sentences first, so that a "paragraph" there is a fifth of the article."""
    paragraphs = [part for part in text.split("\n\n") if part.strip()]
    if len(paragraphs) < 4:
        sentences = re.split(r"(?<=[.!?])\s+", text)
        size = math.ceil(len(sentences) / 5)
        paragraphs = [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]
    dropped = rng.randrange(1, len(paragraphs))
    return "\n\n".join(part for i, part in enumerate(paragraphs) if i != dropped)


def cut_tail(text: str) -> str:
    """Keep the first 85% of the words."""
    words = text.split()
    return " ".join(words[: math.ceil(len(words) * 0.85)])


def edit_words(text: str, fraction: float, rng: random.Random, vocabulary: list[str]) -> str:
    """Edit that share of the words: 70% replaced, 15% deleted, 15% followed by an insertion."""
    words = text.split()
    chosen = set(rng.sample(range(len(words)), max(1, round(fraction * len(words)))))
    out: list[str] = []
    for i, word in enumerate(words):
        if i not in chosen:
            out.append(word)
            continue
        roll = rng.random()
        if roll < 0.70:
            replacement = word
            while replacement == word:
                replacement = rng.choice(vocabulary)
            out.append(replacement)
        elif roll >= 0.85:
            out.extend((word, rng.choice(vocabulary)))
    return " ".join(out)


def variants(article: Article, rng: random.Random, vocabulary: list[str]) -> dict[str, str]:
    """One copy per change type; (f) changes only the title, which dedup never sees."""
    return {
        "a": debris(article, rng),
        "b": drop_paragraph(article.text, rng),
        "c": cut_tail(article.text),
        "d": edit_words(article.text, 0.05, rng, vocabulary),
        "e": edit_words(article.text, 0.10, rng, vocabulary),
        "f": article.text,
    }


def new_index() -> tuple[DedupIndex, dict[str, dict[str, Any]]]:
    """An index on plain dicts, returned with them for the memory count."""
    state: dict[str, dict[str, Any]] = {name: {} for name in ("verdicts", "roots")}
    defaults = Settings()
    index = DedupIndex(
        **state,
        threshold=defaults.dedup_threshold,
        retention_seconds=defaults.dedup_retention_seconds,
    )
    return index, state


def state_bytes(mapping: MutableMapping[str, Any]) -> int:
    """Key plus compact-JSON value bytes: about what a JSON-serialising table stores."""
    return sum(
        len(key.encode()) + len(json.dumps(value, separators=(",", ":")).encode())
        for key, value in mapping.items()
    )


def quality(data: Path, per_language: int) -> dict[str, Any]:
    """Feed originals, controls and first group members, then copies and second group members."""
    rng = random.Random(SEED)
    articles, groups = load(data)
    by_id = {article.id: article for article in articles}
    shingles = {article.id: shingle_set(article.text) for article in articles}
    distinct, near = screen(articles, shingles, groups)
    in_groups = {member for group in groups for member in group}
    pool = [a for a in articles if a.id not in in_groups and a.id not in near]
    originals: list[Article] = []
    for lang in ("en", "de"):
        eligible = [a for a in pool if a.lang == lang and len(a.text.split()) >= MIN_WORDS]
        originals += rng.sample(eligible, per_language)
    chosen = {a.id for a in originals}
    controls = [a for a in pool if a.id not in chosen]
    vocabulary = {
        lang: [w for a in articles if a.lang == lang for w in a.text.split()][:200_000]
        for lang in ("en", "de")
    }

    first = [Item(a.id, a.text, "original", None) for a in originals]
    first += [Item(a.id, a.text, "control", None) for a in controls]
    first += [Item(g[0], by_id[g[0]].text, "group-first", None) for g in groups]
    second = [Item(g[1], by_id[g[1]].text, "group", g[0]) for g in groups]
    true_similarity: dict[str, float] = {}
    for article in originals:
        for kind, body in variants(article, rng, vocabulary[article.lang]).items():
            item = Item(f"{article.id}#{kind}", body, kind, article.id)
            second.append(item)
            true_similarity[item.id] = jaccard(shingles[article.id], shingle_set(body))
    rng.shuffle(first)
    rng.shuffle(second)

    index, state = new_index()
    verdicts: dict[str, Verdict] = {}
    for clock, item in enumerate(first + second):
        verdicts[item.id] = index.check(item.id, item.body, 1_700_000_000.0 + clock)
    items = first + second
    flagged = [i for i in items if verdicts[i.id].duplicate_of is not None]
    correct = [i for i in flagged if verdicts[i.id].duplicate_of == i.expected_root]
    recall: dict[str, dict[str, Any]] = {}
    for kind in CHANGE_TYPES:
        of_kind = [i for i in items if i.kind == kind]
        found = [i for i in of_kind if verdicts[i.id].duplicate_of == i.expected_root]
        missed = [i for i in of_kind if i not in found]
        estimates = [verdicts[i.id].similarity or 0.0 for i in found]
        truths = [true_similarity[i.id] for i in of_kind]
        recall[kind] = {
            "n": len(of_kind),
            "found": len(found),
            "statuses": Counter(verdicts[i.id].status for i in of_kind),
            "true_median": statistics.median(truths),
            "true_min": min(truths),
            "estimate_median": statistics.median(estimates) if estimates else float("nan"),
            "missed_below_threshold": sum(true_similarity[i.id] < THRESHOLD for i in missed),
        }
    group_found = sum(verdicts[g[1]] == Verdict("exact_duplicate", g[0], 1.0) for g in groups)
    wrong = [i for i in flagged if i not in correct]
    counts = {name: len(mapping) for name, mapping in state.items()}
    sizes = {name: state_bytes(mapping) for name, mapping in state.items()}
    duplicates = {k: v for k, v in state["verdicts"].items() if v["status"] != "unique"}
    per_duplicate = state_bytes(duplicates) / len(duplicates)
    unique_verdicts = sizes["verdicts"] - state_bytes(duplicates)
    per_root = (sizes["roots"] + unique_verdicts) / counts["roots"]
    return {
        "fed": len(items),
        "originals": Counter(a.lang for a in originals),
        "controls": len(controls),
        "excluded_near": len(near - in_groups),
        "distinct": distinct,
        "flagged": len(flagged),
        "correct": len(correct),
        "wrong": [(i.id, i.kind, verdicts[i.id]) for i in wrong],
        "recall": recall,
        "groups": len(groups),
        "group_found": group_found,
        "unique_ok": sum(verdicts[i.id].status == "unique" for i in first),
        "first": len(first),
        "counts": counts,
        "sizes": sizes,
        "roots": counts["roots"],
        "per_root": per_root,
        "per_duplicate": per_duplicate,
    }


def speed_texts(data: Path, count: int) -> list[str]:
    """Texts of about 5 KB cut from the shuffled articles laid end to end (without the second
    members of exact groups), so that no two texts share an article."""
    articles, groups = load(data)
    repeats = {group[1] for group in groups}
    random.Random(SEED).shuffle(articles)
    stream = "\n\n".join(a.text for a in articles if a.id not in repeats).encode()
    texts: list[str] = []
    for start in range(0, len(stream) - 5000, 5000):
        chunk = stream[start : start + 5000].decode("utf-8", "ignore")
        texts.append(chunk.split(" ", 1)[1].rsplit(" ", 1)[0])
    if len(texts) < count:
        raise SystemExit(f"only {len(texts)} texts of 5 KB in the data, asked for {count}")
    return texts[:count]


def timed(function: Callable[[Any], Any], inputs: Iterable[Any]) -> tuple[list[Any], float]:
    """Outputs and microseconds per call."""
    inputs = list(inputs)
    start = time.perf_counter()
    outputs = [function(value) for value in inputs]
    return outputs, (time.perf_counter() - start) / len(inputs) * 1e6


def speed(data: Path, count: int) -> dict[str, Any]:
    """Per-stage cost and end-to-end check() rate on ~5 KB articles."""
    texts = speed_texts(data, count)
    rng = random.Random(SEED)
    vocabulary = [w for text in texts[:50] for w in text.split()]
    copies = [edit_words(text, 0.10, rng, vocabulary) for text in texts]
    sim.normalise("warm up the character table")
    normalised, normalise_us = timed(sim.normalise, texts)
    _, fingerprint_us = timed(sim.fingerprint, normalised)
    shingles, shingle_us = timed(sim.shingle_hashes, normalised)
    signatures, minhash_us = timed(sim.signature, shingles)
    _, bands_us = timed(sim.band_keys, signatures)
    index, _ = new_index()
    clock = itertools.count()
    _, insert_us = timed(lambda t: index.check(str(next(clock)), t, 1.7e9), texts)
    verdicts, query_us = timed(lambda t: index.check(str(next(clock)), t, 1.7e9), copies)
    return {
        "count": count,
        "bytes": statistics.mean(len(t.encode()) for t in texts),
        "normalise": normalise_us,
        "fingerprint": fingerprint_us,
        "shingle": shingle_us,
        "minhash": minhash_us,
        "bands": bands_us,
        "insert": insert_us,
        "query": query_us,
        "copies_found": sum(v.status == "near_duplicate" for v in verdicts),
    }


def detection_probability(similarity: float) -> tuple[float, float]:
    """P(candidate) from the LSH S-curve, and P(estimate >= threshold) from the binomial."""
    candidate = 1 - (1 - similarity**sim.ROWS) ** sim.BANDS
    needed = math.ceil(THRESHOLD * sim.NUM_PERM)
    accepted = sum(
        math.comb(sim.NUM_PERM, k) * similarity**k * (1 - similarity) ** (sim.NUM_PERM - k)
        for k in range(needed, sim.NUM_PERM + 1)
    )
    return candidate, accepted


def report(result: dict[str, Any], timing: dict[str, Any], command: str) -> str:
    """The Markdown summary."""
    precision = result["correct"] / result["flagged"] if result["flagged"] else 1.0
    distinct = np.array(result["distinct"])
    out = [
        "## Dedup (near-duplicate detection)",
        "",
        f"`{command}` — seed {SEED}, one CPU core, numpy {np.__version__}.",
        "",
        f"MinHash: {sim.NUM_PERM} values per signature (16-bit), LSH {sim.BANDS} bands x "
        f"{sim.ROWS} rows, threshold {THRESHOLD} on word 3-shingles.",
        "",
        "### Quality",
        "",
        f"Fed {result['fed']} articles in two phases: {result['originals']['en']} English and "
        f"{result['originals']['de']} German originals (>= {MIN_WORDS} words), "
        f"{result['controls']} distinct same-category controls and the first member of each "
        f"exact group; then one copy per change type per original and the second group "
        f"members, shuffled. {result['excluded_near']} articles that already resemble another "
        f"one (true Jaccard >= {DATASET_NEAR_PAIR}) were left out.",
        "",
        f"- Precision: **{precision:.4f}** ({result['correct']}/{result['flagged']} duplicate "
        f"verdicts point at the right root; target >= {PRECISION_TARGET})",
        f"- Phase-one articles judged unique: {result['unique_ok']}/{result['first']}",
        f"- Exact groups found: **{result['group_found']}/{result['groups']}**",
        "",
        "| change | recall | target | statuses | true J median (min) | estimated J median "
        "| misses with true J < 0.5 |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, row in result["recall"].items():
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(row["statuses"].items()))
        out.append(
            f"| ({kind}) {CHANGE_TYPES[kind]} | **{row['found'] / row['n']:.3f}** "
            f"({row['found']}/{row['n']}) | {RECALL_TARGETS[kind]} | {statuses} "
            f"| {row['true_median']:.2f} ({row['true_min']:.2f}) "
            f"| {row['estimate_median']:.2f} | {row['missed_below_threshold']} |"
        )
    for article_id, kind, verdict in result["wrong"][:10]:
        out.append(f"- false positive: `{article_id}` ({kind}) -> {verdict}")
    out += [
        "",
        f"Distinct same-category pairs ({distinct.size}): true Jaccard p99 "
        f"{np.quantile(distinct, 0.99):.3f}, p99.9 {np.quantile(distinct, 0.999):.3f}, "
        f"max below the screen {distinct[distinct < DATASET_NEAR_PAIR].max():.3f}.",
        "",
        "LSH S-curve (P candidate) and P(estimate >= threshold), by true Jaccard:",
        "",
        "| J | " + " | ".join(f"{s:.2f}" for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7)) + " |",
        "|---|" + "---|" * 8,
    ]
    curves = [detection_probability(s) for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7)]
    out.append("| candidate | " + " | ".join(f"{c:.3f}" for c, _ in curves) + " |")
    out.append("| accepted | " + " | ".join(f"{a:.3f}" for _, a in curves) + " |")
    total = sum(result["sizes"].values())
    keys = sum(result["counts"].values())
    articles = result["counts"]["verdicts"]
    out += [
        "",
        f"State after the run: {articles} retained articles ({result['roots']} roots), "
        f"{keys} keys, {total} bytes of keys and compact JSON values: "
        f"**{total / articles:.0f} bytes per retained article** "
        f"({keys / articles:.1f} keys); by mapping: "
        + ", ".join(f"{k} {v / articles:.0f} B" for k, v in result["sizes"].items())
        + f". A root costs about {result['per_root']:.0f} B "
        f"(verdict and signature), a duplicate about {result['per_duplicate']:.0f} B (its "
        "verdict). Ids here are 15-20 characters; RocksDB and changelog overheads come on "
        f"top, and the lookups kept in memory (fingerprint, {sim.BANDS} bucket entries and "
        "an expiry entry per root) beside them.",
        "",
        "### Speed",
        "",
        f"{timing['count']} distinct texts of {timing['bytes']:.0f} bytes, then a 10%-edited "
        f"copy of each ({timing['copies_found']} found as near duplicates).",
        "",
        "| stage | us per article |",
        "|---|---|",
    ]
    for stage in ("normalise", "fingerprint", "shingle", "minhash", "bands"):
        out.append(f"| {stage} | {timing[stage]:.1f} |")
    sketch = sum(timing[s] for s in ("normalise", "fingerprint", "shingle", "minhash", "bands"))
    for stage, label in (("insert", "new article"), ("query", "near copy")):
        out.append(
            f"| check(), {label}: index work (lookups, LSH, verification, writes) "
            f"| {timing[stage] - sketch:.1f} |"
        )
    for stage, label in (("insert", "new articles"), ("query", "near copies")):
        out.append(
            f"| **check() total, {label}** | **{timing[stage]:.1f}** "
            f"({1e6 / timing[stage]:,.0f} articles/s) |"
        )
    out.append("")
    out.append(f"Target: >= {SPEED_TARGET:,.0f} articles/s on one core.")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "../shared/data/eval/news")
    parser.add_argument("--per-language", type=int, default=150)
    parser.add_argument("--speed-articles", type=int, default=1400)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result = quality(args.data.resolve(), args.per_language)
    timing = speed(args.data.resolve(), args.speed_articles)
    print(report(result, timing, "python " + " ".join(["benchmarks/dedup_eval.py", *sys.argv[1:]])))


if __name__ == "__main__":
    main()
