"""Mentions of one entity: names the model missed are found again, and all are merged.

A news article names one "Putin" or "Nordkorea" many times; a consumer wants one entity
with its surface forms, not a list of spans.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from streams.records import Entity


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
        aliases=sorted(form for form in forms if form != canonical),
        spans=[[m.start, m.end] for m in group.mentions],
    )
