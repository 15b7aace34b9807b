"""Score pipelines on the dev split the way benchmarks/ner_eval.py scores test.

Exact outer PER/ORG/LOC spans, micro F1, on the gold tokens of
training/de/corpus/dev.spacy (every 10th GermEval dev sentence; MISC counts as no
entity on both sides). Decisions are taken on this, never on the test set:

    python training/de/dev_eval.py streams/models/de_streams_ner training/de/output/model-best
"""

# ruff: noqa: T201  (a command-line script: it reports by printing)

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from benchmarks.ner_eval import SCORED, Score, score  # noqa: E402


def evaluate(model: Path, dev: Path) -> Score:
    """One pipeline on the dev DocBin's gold tokens and outer spans."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.load(model)
    gold = DocBin().from_disk(dev).get_docs(nlp.vocab)
    return score(
        nlp,
        [
            (
                [t.text for t in doc],
                {(e.start, e.end, e.label_) for e in doc.ents if e.label_ in SCORED},
            )
            for doc in gold
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--dev", type=Path, default=HERE / "corpus" / "dev.spacy")
    args = parser.parse_args()
    for model in args.models:
        result = evaluate(model, args.dev)
        p, r, f = result.prf()
        speed = result.words / result.seconds
        print(f"{model}: P {p:.3f} R {r:.3f} F1 {f:.3f} ({speed:,.0f} words/s)")


if __name__ == "__main__":
    main()
