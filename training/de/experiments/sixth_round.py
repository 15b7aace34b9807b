"""Sixth-round experiments (training/de/README.md): corpora, pretraining text, votes.

Each `corpus` is the recipe's `convert` for one fold plus one change; train on it
with the recipe (`train.py train --corpus DIR --output OUT --system.seed S`):

    python training/de/experiments/sixth_round.py corpus --extra NL --fold 5 DIR
    python training/de/experiments/sixth_round.py corpus --org-again --fold 5 DIR
    python training/de/experiments/sixth_round.py raw DIR   # then train.py pretrain --corpus DIR
    python training/de/experiments/sixth_round.py vote MODEL MODEL MODEL ...
"""

# ruff: noqa: T201  (a command-line script: it reports by printing)

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE.parents[2] / "benchmarks"))

import train as recipe  # noqa: E402

Sentence = tuple[list[str], list[str]]


def europeana(lang: str) -> list[Sentence]:
    return [
        (words, recipe._fix_bio(tags))
        for path in sorted((recipe.DATA / "europeana-newspapers").glob(f"enp_{lang}.*.bio"))
        for words, tags in recipe.europeana(path)
    ]


def corpus(args: argparse.Namespace) -> None:
    """The recipe's train/dev files for one fold, plus other languages or ORG sentences."""
    out: Path = args.dir
    out.mkdir(parents=True, exist_ok=True)
    ge = list(recipe.germeval(recipe.DATA / "germeval2014/NER-de-dev.tsv", "drop"))
    dev = [s for i, s in enumerate(ge) if i % recipe.DEV_EVERY == args.fold]
    ge_train = [s for i, s in enumerate(ge) if i % recipe.DEV_EVERY != args.fold]
    legal = list(recipe.legal(recipe.DATA / "german-legal-ler/ler_dev.conll"))
    train = ge_train * 2 + recipe.augment(ge_train, 2) + europeana("DE") + legal
    for lang in args.extra:
        train += europeana(lang)
    if args.org_again:
        org = [s for s in ge_train if any(tag.endswith("-ORG") for tag in s[1])]
        train += org + recipe.augment(org, 1, seed=recipe.SEED + 1)
    random.Random(recipe.SEED).shuffle(train)  # noqa: S311  (a reproducible order)
    recipe._docbin(train).to_disk(out / "train.spacy")  # type: ignore[attr-defined]
    recipe._docbin(dev).to_disk(out / "dev.spacy")  # type: ignore[attr-defined]
    (out / "gazetteer").unlink(missing_ok=True)
    (out / "gazetteer").symlink_to(recipe.CORPUS / "gazetteer")
    print(f"fold {args.fold}: {len(train)} training sentences")


def raw(args: argparse.Namespace) -> None:
    """Pretraining text: the recipe's (fold 0), Europeana Dutch and French, all legal sentences."""
    out: Path = args.dir
    out.mkdir(parents=True, exist_ok=True)
    lines = (recipe.CORPUS / "raw.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [" ".join(words) for lang in ("NL", "FR") for words, _ in europeana(lang)]
    words: list[str] = []
    with (recipe.DATA / "german-legal-ler/ler_dev.conll").open(encoding="utf-8", newline="") as f:
        for line in f:
            parts = line.strip("\r\n").split(" ")
            if len(parts) == 2:
                words.append(parts[0])
            elif words:
                texts.append(" ".join(words))
                words = []
    lines += [json.dumps({"text": text}, ensure_ascii=False) for text in texts]
    (out / "raw.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "gazetteer").unlink(missing_ok=True)
    (out / "gazetteer").symlink_to(recipe.CORPUS / "gazetteer")
    print(f"{len(lines)} lines of pretraining text")


def vote(args: argparse.Namespace) -> None:
    """GermEval test F1 (record only) of each model and of majority votes over subsets."""
    import ner_eval
    from spacy.tokens import Doc

    from streams.entities import load_pipeline, map_label

    gold = next(g for g in ner_eval.SETS if g.key == "germeval")
    sentences = [(words, ner_eval.spans(tags)) for words, tags in ner_eval.read(gold)]
    scored = set(ner_eval.SCORED)
    guesses: dict[str, list[set[tuple[int, int, str]]]] = {}
    for model in args.models:
        nlp = load_pipeline(model)
        docs = nlp.pipe(Doc(nlp.vocab, words=words) for words, _ in sentences)
        guesses[model] = [
            {(e.start, e.end, lab) for e in doc.ents if (lab := map_label(e.label_)) in scored}
            for doc in docs
        ]
        print(f"{model}: F1 {f1(guesses[model], sentences):.3f}")
    for n in range(3, len(args.models) + 1, 2):
        scores = [
            f1(majority([guesses[m] for m in combo]), sentences)
            for combo in itertools.combinations(args.models, n)
        ]
        print(
            f"majority of {n}: mean F1 {sum(scores) / len(scores):.3f} over {len(scores)}, "
            f"{min(scores):.3f}-{max(scores):.3f}"
        )


def majority(members: list[list[set[tuple[int, int, str]]]]) -> list[set[tuple[int, int, str]]]:
    out = []
    for per_sentence in zip(*members, strict=True):
        counts = Counter(span for spans in per_sentence for span in spans)
        out.append({span for span, k in counts.items() if k > len(members) // 2})
    return out


def f1(guesses: list[set[tuple[int, int, str]]], sentences: list[tuple[list[str], set]]) -> float:
    tp = sum(len(g & truth) for g, (_, truth) in zip(guesses, sentences, strict=True))
    fp = sum(len(g - truth) for g, (_, truth) in zip(guesses, sentences, strict=True))
    fn = sum(len(truth - g) for g, (_, truth) in zip(guesses, sentences, strict=True))
    return 2 * tp / (2 * tp + fp + fn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("dir", type=Path)
    c.add_argument("--fold", type=int, default=0)
    c.add_argument("--extra", type=lambda s: s.split(","), default=[], help="e.g. NL or NL,FR")
    c.add_argument("--org-again", action="store_true")
    r = sub.add_parser("raw")
    r.add_argument("dir", type=Path)
    v = sub.add_parser("vote")
    v.add_argument("models", nargs="+")
    args = parser.parse_args()
    {"corpus": corpus, "raw": raw, "vote": vote}[args.step](args)


if __name__ == "__main__":
    main()
