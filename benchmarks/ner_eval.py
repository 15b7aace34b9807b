"""NER quality and speed on held-out gold sets, printed as Markdown for docs/BENCHMARKS.md.

Each pipeline runs on the gold tokens (a Doc built from the gold words, then the
pipeline's components as streams.entities loads them), so tokenisation does not
count. Scored: micro-averaged exact-span precision/recall/F1 over the outer PER,
ORG and LOC spans; GermEval's OTH and *deriv/*part labels, and MISC elsewhere,
count as no entity on both sides. Speed: words per second of the whole loaded
pipeline (NER and what it needs) on one thread.

    OMP_NUM_THREADS=1 python benchmarks/ner_eval.py
    python benchmarks/ner_eval.py --pipeline de=training/de/output/model-best --sets germeval
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.stages.entities.tagger import (  # noqa: E402
    DEFAULT_PIPELINES,
    load_pipeline,
    map_label,
    pipeline_name,
)

EVAL = Path(os.environ.get("STREAMS_NER_EVAL_DATA", ROOT.parent / "shared/data/eval/ner"))
SCORED = ("PER", "ORG", "LOC")

Sentence = tuple[list[str], list[str]]


@dataclass(frozen=True)
class GoldSet:
    key: str
    language: str
    title: str
    path: str
    token_col: int
    tag_col: int
    numbered: bool  # token lines start with an index; other lines are comments


SETS = [
    GoldSet("germeval", "de", "GermEval 2014 test", "germeval2014/NER-de-test.tsv", 1, 2, True),
    GoldSet("de-pud", "de", "UNER German PUD test", "uner/de_pud-ud-test.iob2", 1, 2, True),
    GoldSet(
        "smartdata", "de", "SmartData v3 test", "smartdata-de/smartdata_v3_test.conll", 0, 1, False
    ),
    GoldSet("wikigold", "en", "WikiGold", "wikigold-en/wikigold.conll.txt", 0, 1, False),
    GoldSet("en-ewt", "en", "UNER English EWT test", "uner/en_ewt-ud-test.iob2", 1, 2, True),
    GoldSet("en-pud", "en", "UNER English PUD test", "uner/en_pud-ud-test.iob2", 1, 2, True),
]


def read(gold: GoldSet) -> Iterator[Sentence]:
    """Sentences of (words, tags) from a CoNLL-like file; blank lines end sentences."""
    words: list[str] = []
    tags: list[str] = []
    with (EVAL / gold.path).open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            cols = line.split("\t") if "\t" in line else line.split(" ")
            if not line.strip() or cols[0] == "-DOCSTART-":
                if words:
                    yield words, tags
                words, tags = [], []
                continue
            if gold.numbered and not cols[0].isdigit():
                continue  # comment: `# text = ...`, GermEval's `#<TAB>url`
            if not gold.numbered and line.startswith("# id = "):
                continue
            words.append(cols[gold.token_col])
            tags.append(cols[gold.tag_col])
    if words:
        yield words, tags


def spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """Outer spans from BIO or IO tags; an I- after another label starts a span."""
    out: set[tuple[int, int, str]] = set()
    start, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, lab = tag.partition("-")
        if prefix == "I" and lab == label:
            continue
        if label in SCORED:
            out.add((start, i, label))
        start, label = (i, lab) if prefix in ("B", "I") else (-1, "")
    return out


@dataclass
class Score:
    tp: Counter[str]
    fp: Counter[str]
    fn: Counter[str]
    words: int = 0
    seconds: float = 0.0

    def prf(self, label: str | None = None) -> tuple[float, float, float]:
        labels = SCORED if label is None else (label,)
        tp = sum(self.tp[x] for x in labels)
        fp = sum(self.fp[x] for x in labels)
        fn = sum(self.fn[x] for x in labels)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(nlp: object, gold: GoldSet) -> Score:
    return score(nlp, [(words, spans(tags)) for words, tags in read(gold)])


def score(nlp: object, sentences: list[tuple[list[str], set[tuple[int, int, str]]]]) -> Score:
    """`nlp` run on the gold tokens of each sentence, against its true outer spans."""
    from spacy.tokens import Doc

    docs = [Doc(nlp.vocab, words=words) for words, _ in sentences]  # type: ignore[attr-defined]
    started = time.perf_counter()
    tagged = list(nlp.pipe(docs))  # type: ignore[attr-defined]
    seconds = time.perf_counter() - started
    result = Score(Counter(), Counter(), Counter(), sum(len(d) for d in docs), seconds)
    for (_, truth), doc in zip(sentences, tagged, strict=True):
        guess = set()
        for ent in doc.ents:
            label = map_label(ent.label_)
            if label in SCORED:
                guess.add((ent.start, ent.end, label))
        for _, _, label in guess & truth:
            result.tp[label] += 1
        for _, _, label in guess - truth:
            result.fp[label] += 1
        for _, _, label in truth - guess:
            result.fn[label] += 1
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pipeline", action="append", default=[], help="lang=package-or-path (repeatable)"
    )
    parser.add_argument("--sets", default=",".join(g.key for g in SETS))
    args = parser.parse_args()
    pipelines = dict(DEFAULT_PIPELINES)
    for item in args.pipeline:
        code, _, value = item.partition("=")
        pipelines[code] = value
    wanted = args.sets.split(",")
    loaded: dict[str, object] = {}
    rows: list[str] = []
    details: list[str] = []
    for gold in SETS:
        if gold.key not in wanted or not (EVAL / gold.path).exists():
            continue
        if gold.language not in loaded:
            loaded[gold.language] = load_pipeline(pipelines[gold.language])
        nlp = loaded[gold.language]
        score = evaluate(nlp, gold)
        p, r, f = score.prf()
        name = pipeline_name(nlp)  # type: ignore[arg-type]
        per_label = " | ".join(f"{score.prf(x)[2]:.3f}" for x in SCORED)
        wps = score.words / score.seconds
        rows.append(
            f"| {gold.title} | {name} | {p:.3f} | {r:.3f} | **{f:.3f}** | {per_label} "
            f"| {score.words:,} | {wps:,.0f} |"
        )
        for label in SCORED:
            lp, lr, lf = score.prf(label)
            n = score.tp[label] + score.fn[label]
            details.append(f"| {gold.title} | {label} | {lp:.3f} | {lr:.3f} | {lf:.3f} | {n:,} |")
        print(f"{gold.key}: P {p:.3f} R {r:.3f} F1 {f:.3f} ({wps:,.0f} words/s)", file=sys.stderr)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"NER on gold tokens, exact outer PER/ORG/LOC spans (OMP_NUM_THREADS={threads}).\n")
    print("| gold set | pipeline | P | R | F1 | PER F1 | ORG F1 | LOC F1 | words | words/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| gold set | label | P | R | F1 | gold spans |")
    print("|---|---|---|---|---|---|")
    print("\n".join(details))


if __name__ == "__main__":
    main()
