"""Accuracy and cost of streams.langid against fastText, lingua, langdetect and CLD2 alone."""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.stages.language import detector as langid
from streams.stages.language.detector import LanguageIdentifier

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "eval" / "langid"
SETS = {"sentences": "sentences", "word-pairs": "word pairs", "single-words": "single words"}
TUNING_LINES = 500
ARTICLE_BYTES = 5000
TIMING_REPEATS = 7
WORST = 8

Votes = dict[str, float]


@dataclass(frozen=True, slots=True)
class Item:
    set: str
    gold: str
    text: str


@dataclass(slots=True)
class Run:
    """Predictions and timings of one detector over the report items."""

    name: str
    correct: dict[tuple[str, str], list[bool]] = field(default_factory=lambda: defaultdict(list))
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    confidence: dict[str, list[tuple[float, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    article_seconds: list[float] = field(default_factory=list)
    article_correct: list[bool] = field(default_factory=list)

    def add(self, item: Item, code: str, seconds: float, confidence: float | None = None) -> None:
        hit = code == item.gold
        self.correct[item.set, item.gold].append(hit)
        self.seconds[item.set].append(seconds)
        if confidence is not None:
            self.confidence[item.set].append((confidence, hit))

    def accuracy(self, set_name: str) -> float:
        """Mean over languages, so that ja and zh with fewer lines weigh as much as the rest."""
        per_language = self.per_language(set_name)
        return statistics.fmean(per_language.values()) if per_language else math.nan

    def per_language(self, set_name: str) -> dict[str, float]:
        return {
            gold: statistics.fmean(hits)
            for (name, gold), hits in self.correct.items()
            if name == set_name and hits
        }


def read(data: Path, split: str, limit: int | None) -> list[Item]:
    """Read the gold files in place; line order decides the split, blank lines are skipped."""
    items: list[Item] = []
    for set_name in SETS:
        for path in sorted((data / set_name).glob("*.txt")):
            lines = path.read_text(encoding="utf-8").splitlines()
            chosen = lines[:TUNING_LINES] if split == "tuning" else lines[TUNING_LINES:]
            texts = [line for line in chosen if line.strip()]
            items.extend(Item(set_name, path.stem, text) for text in texts[:limit])
    return items


def articles(items: Iterable[Item], per_language: int) -> list[Item]:
    """About 5 KB of consecutive sentences of one language, as a news body would be."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for item in items:
        if item.set == "sentences":
            by_language[item.gold].append(item.text)
    built: list[Item] = []
    for gold, sentences in sorted(by_language.items()):
        body: list[str] = []
        size = 0
        for sentence in sentences:
            body.append(sentence)
            size += len(sentence.encode()) + 1
            if size >= ARTICLE_BYTES:
                built.append(Item("article", gold, " ".join(body)))
                body, size = [], 0
                if sum(article.gold == gold for article in built) == per_language:
                    break
    return built


def timed(function: Callable[[str], object], text: str) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(text)
    return result, time.perf_counter() - start


def time_article(function: Callable[[str], object], text: str) -> tuple[object, float]:
    """Median of repeats after one warm call, so lazy model loading is not billed to a body."""
    result = function(text)
    return result, statistics.median(timed(function, text)[1] for _ in range(TIMING_REPEATS))


def top(votes: Votes) -> str:
    return max(sorted(votes), key=votes.__getitem__) if votes else "und"


def evaluate_identifier(
    name: str, identifier: LanguageIdentifier, items: Sequence[Item], bodies: Sequence[Item]
) -> Run:
    """Score only items whose gold the identifier may answer: a candidate set is a promise."""
    allowed = identifier._languages
    items = [item for item in items if allowed is None or item.gold in allowed]
    bodies = [body for body in bodies if allowed is None or body.gold in allowed]
    run = Run(name)
    for item in items:
        detection, seconds = timed(identifier.detect, item.text)
        assert isinstance(detection, langid.Detection)
        run.add(item, detection.code, seconds, detection.confidence)
    for body in bodies:
        detection, seconds = time_article(identifier.detect, body.text)
        assert isinstance(detection, langid.Detection)
        run.article_seconds.append(seconds)
        run.article_correct.append(detection.code == body.gold)
    return run


def evaluate_baseline(
    name: str, votes: Callable[[str], Votes], items: Sequence[Item], bodies: Sequence[Item]
) -> Run:
    run = Run(name)

    def code_of(text: str) -> str:
        return top(votes(langid._clean(text)))

    for item in items:
        code, seconds = timed(code_of, item.text)
        run.add(item, str(code), seconds)
    for body in bodies:
        code, seconds = time_article(code_of, body.text)
        run.article_seconds.append(seconds)
        run.article_correct.append(code == body.gold)
    return run


def langdetect_votes() -> Callable[[str], Votes]:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    codes = {"no": "nb", "zh-cn": "zh", "zh-tw": "zh"}

    def votes(text: str) -> Votes:
        try:
            return {codes.get(guess.lang, guess.lang): guess.prob for guess in detect_langs(text)}
        except LangDetectException:
            return {}

    return votes


def milliseconds(values: Sequence[float]) -> str:
    return f"{1000 * statistics.median(values):.3f}" if values else "n/a"


def percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.2f}"


def markdown(runs: Sequence[Run], rss: dict[str, float], items: Sequence[Item]) -> str:
    counts = {name: sum(item.set == name for item in items) for name in SETS}
    header = " | ".join(f"{label} (n={counts[name]})" for name, label in SETS.items())
    lines = [
        f"| detector | {header} | median ms / sentence | median ms / 5 KB article |"
        " article accuracy |",
        "|---|" + "---:|" * (len(SETS) + 3),
    ]
    for run in runs:
        cells = " | ".join(percent(run.accuracy(name)) for name in SETS)
        article = percent(statistics.fmean(run.article_correct)) if run.article_correct else "n/a"
        lines.append(
            f"| {run.name} | {cells} | {milliseconds(run.seconds['sentences'])} | "
            f"{milliseconds(run.article_seconds)} | {article} |"
        )
    lines += ["", "Worst languages (accuracy %, report split):", ""]
    for run in runs:
        if not run.confidence:
            continue
        lines.append(f"| {run.name} | " + " | ".join(SETS.values()) + " |")
        lines.append("|---|" + "---|" * len(SETS))
        worst = {
            name: sorted(run.per_language(name).items(), key=lambda pair: pair[1])[:WORST]
            for name in SETS
        }
        for rank in range(WORST):
            ranked = [
                f"{worst[name][rank][0]} {100 * worst[name][rank][1]:.1f}"
                if rank < len(worst[name])
                else ""
                for name in SETS
            ]
            lines.append(f"| {rank + 1} | " + " | ".join(ranked) + " |")
        lines.append("")
    lines += ["Confidence against accuracy (items pooled):", ""]
    lines += [
        "| detector | set | mean confidence | accuracy | ECE (10 bins) |",
        "|---|---|---:|---:|---:|",
    ]
    for run in runs:
        for name, label in SETS.items():
            pairs = run.confidence.get(name, [])
            if pairs:
                mean = statistics.fmean(confidence for confidence, _ in pairs)
                hits = statistics.fmean(hit for _, hit in pairs)
                lines.append(
                    f"| {run.name} | {label} | {mean:.3f} | {hits:.3f} | {ece(pairs):.4f} |"
                )
    lines += ["", *(f"- peak RSS {key}: {value:.0f} MiB" for key, value in rss.items())]
    return "\n".join(lines)


def ece(pairs: Sequence[tuple[float, bool]]) -> float:
    bins: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for confidence, hit in pairs:
        bins[min(int(confidence * 10), 9)].append((confidence, hit))
    return sum(
        len(members)
        / len(pairs)
        * abs(statistics.fmean(c for c, _ in members) - statistics.fmean(h for _, h in members))
        for members in bins.values()
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tune(data: Path, limit: int | None) -> None:
    """Grid-search the ensemble weights per length band and fit the calibration, on the tuning
    split only; prints constants for streams/langid.py."""
    identifier = LanguageIdentifier()
    rows: list[tuple[int, str, Votes, Votes, Votes]] = []
    for item in read(data, "tuning", limit):
        text = langid._clean(item.text)
        letters = langid._letters(text, langid._LONG_TEXT)
        if 0 < letters < langid._LONG_TEXT:
            fast = identifier._fasttext_votes(text)
            slow = identifier._lingua_votes(text)
            candidates = fast.keys() | slow.keys()
            cld = {c: v for c, v in identifier._cld_votes(text).items() if c in candidates}
            rows.append((letters, item.gold, fast, slow, cld))
    fasttext_grid = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5)
    cld_grid = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
    low = 0
    chosen: list[tuple[int, float, float]] = []
    for high, _, _ in langid._WEIGHTS:
        band = [row for row in rows if low <= row[0] < high]
        pruned = [(gold, logs(fast, slow, cld)) for _, gold, fast, slow, cld in band]
        best = max(
            ((f, c) for f in fasttext_grid for c in cld_grid),
            key=lambda w: sum(
                max(
                    table,
                    key=lambda code: w[0] * table[code][0] + table[code][1] + w[1] * table[code][2],
                )
                == gold
                for gold, table in pruned
            ),
        )
        chosen.append((high, *best))
        print(f"letters < {high}: {len(band)} items, fastText weight {best[0]}, CLD2 {best[1]}")
        low = high
    samples: list[tuple[float, float, bool]] = []
    for letters, gold, fast, slow, cld in rows:
        weights = next((f, c) for high, f, c in chosen if letters < high)
        table = logs(fast, slow, cld, prune=False)
        scores = {code: weights[0] * v[0] + v[1] + weights[1] * v[2] for code, v in table.items()}
        code = max(sorted(scores), key=scores.__getitem__)
        probability = 1.0 / sum(math.exp(s - scores[code]) for s in scores.values())
        samples.append((probability, letters, code == gold))
    print("_WEIGHTS =", tuple(chosen))
    print("_CALIBRATION =", tuple(round(b, 3) for b in logistic(samples)))


def logs(fast: Votes, slow: Votes, cld: Votes, prune: bool = True) -> dict[str, tuple[float, ...]]:
    """Log-votes per candidate; the grid search keeps only each detector's top five, for speed:
    a code in none of them does not win in practice."""
    codes: Iterable[str] = fast.keys() | slow.keys()
    if prune:
        codes = {
            c for votes in (fast, slow, cld) for c in sorted(votes, key=votes.__getitem__)[-5:]
        }
        codes &= fast.keys() | slow.keys()
    return {
        code: (
            math.log(fast.get(code, 0.0) + langid._FASTTEXT_FLOOR),
            math.log(slow.get(code, 0.0) + langid._LINGUA_FLOOR),
            math.log(cld.get(code, 0.0) + langid._CLD_FLOOR),
        )
        for code in codes
    }


def logistic(samples: Sequence[tuple[float, float, bool]]) -> list[float]:
    """Newton's method on (bias, logit of probability, log letters): three numbers, no numpy."""
    features = []
    for probability, letters, hit in samples:
        p = min(max(probability, 1e-6), 1 - 1e-6)
        features.append(((1.0, math.log(p / (1 - p)), math.log(letters)), float(hit)))
    beta = [0.0, 0.0, 0.0]
    for _ in range(25):
        gradient = [0.0] * 3
        hessian = [[1e-9 * (i == j) for j in range(3)] for i in range(3)]
        for x, y in features:
            q = 1 / (1 + math.exp(-sum(b * v for b, v in zip(beta, x, strict=True))))
            for i in range(3):
                gradient[i] += (q - y) * x[i]
                for j in range(3):
                    hessian[i][j] += q * (1 - q) * x[i] * x[j]
        beta = [b - s for b, s in zip(beta, solve(hessian, gradient), strict=True)]
    return beta


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination for the 3x3 Newton step."""
    n = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(n)]
    for i in range(n):
        pivot = max(range(i, n), key=lambda r: abs(rows[r][i]))
        rows[i], rows[pivot] = rows[pivot], rows[i]
        for r in range(n):
            if r != i:
                factor = rows[r][i] / rows[i][i]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[i], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="langid eval folder")
    parser.add_argument("--limit", type=int, help="at most this many items per file and split")
    parser.add_argument("--articles", type=int, default=3, help="5 KB articles per language")
    parser.add_argument(
        "--languages",
        help="also evaluate this comma-separated candidate set (e.g. the languages a site uses)",
    )
    parser.add_argument("--no-baselines", action="store_true", help="only streams.langid")
    parser.add_argument("--tune", action="store_true", help="fit constants on the tuning split")
    parser.add_argument("--cpu", type=int, help="core to pin to (default: the first allowed)")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0)) if args.cpu is None else args.cpu})
    if args.tune:
        tune(args.data, args.limit)
        return
    items = read(args.data, "report", args.limit)
    bodies = articles(items, args.articles)
    rss = {"before any model": peak_rss_mib()}
    identifier = LanguageIdentifier()
    runs = [evaluate_identifier("streams.langid, all languages", identifier, items, bodies)]
    rss["after streams.langid over every report item (whole process)"] = peak_rss_mib()
    if args.languages:
        restricted = LanguageIdentifier(args.languages.split(","))
        runs.append(
            evaluate_identifier(
                f"streams.langid, languages={args.languages}", restricted, items, bodies
            )
        )
    if not args.no_baselines:
        runs += [
            evaluate_baseline(
                "fastText lid.176 small alone", identifier._fasttext_votes, items, bodies
            ),
            evaluate_baseline(
                "lingua high accuracy alone", identifier._lingua_votes, items, bodies
            ),
            evaluate_baseline("langdetect alone", langdetect_votes(), items, bodies),
            evaluate_baseline("pycld2 alone", identifier._cld_votes, items, bodies),
        ]
    print(
        f"Report split of {args.data}: lines after the first {TUNING_LINES} of each file; "
        f"{len(bodies)} articles of >= {ARTICLE_BYTES} bytes; one core; accuracy is the mean "
        "over languages.\n"
    )
    print(markdown(runs, rss, items))


if __name__ == "__main__":
    main()
