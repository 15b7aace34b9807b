"""Fifth-round experiment: the institution head noun a word ends in, as a lexical feature.

Missed organisations are often one-word compounds ("Bundesärztekammer",
"Commerzbank") whose head says what they are; the hash-embedded PREFIX attribute
(first character) is widened to carry it. Load with `--code` so the callback
that `org_heads.cfg` names is registered:

    python -m spacy pretrain training/de/experiments/org_heads.cfg OUT \
        --code training/de/experiments/org_heads.py --paths.raw_text ... --paths.vectors ...
    python -m spacy train training/de/experiments/org_heads.cfg \
        --code training/de/experiments/org_heads.py --paths.init_tok2vec OUT/model14.bin ...
"""

from __future__ import annotations

from collections.abc import Callable

import spacy
from spacy.attrs import PREFIX
from spacy.language import Language

HEADS = sorted(
    [
        "amt",
        "kammer",
        "bank",
        "verband",
        "verein",
        "stiftung",
        "ministerium",
        "gericht",
        "gerichtshof",
        "rundfunk",
        "verlag",
        "werk",
        "werke",
        "partei",
        "institut",
        "agentur",
        "gesellschaft",
        "konzern",
        "rat",
        "behörde",
        "dienst",
        "kommission",
        "bund",
        "union",
        "akademie",
        "universität",
        "hochschule",
        "schule",
        "klinik",
        "klinikum",
        "museum",
        "theater",
        "orchester",
        "zeitung",
        "presse",
        "sender",
        "kasse",
        "sparkasse",
        "versicherung",
        "gewerkschaft",
        "genossenschaft",
        "holding",
        "gruppe",
        "fraktion",
        "polizei",
        "armee",
        "regierung",
        "parlament",
        "senat",
        "büro",
        "anstalt",
        "direktion",
        "verwaltung",
        "ausschuss",
        "club",
        "klub",
        "bundesamt",
        "landesamt",
        "zentrale",
    ],
    key=len,
    reverse=True,
)
PREFIXES = ("bundes", "landes", "staats", "reichs", "stadt", "kreis", "europa")


def org_head(word: str) -> str:
    """'bundes|kammer|compound' for "Bundesärztekammer"; '' when nothing matches."""
    low = word.lower()
    pre = next((p for p in PREFIXES if low.startswith(p) and len(low) > len(p) + 2), "")
    forms = [low]
    if low.endswith("s"):
        forms.append(low[:-1])
    if low.endswith("es"):
        forms.append(low[:-2])
    for form in forms:
        head = next((h for h in HEADS if form.endswith(h)), None)
        if head:
            return f"{pre}|{head}|{'bare' if form == head else 'compound'}"
    return f"{pre}||" if pre else ""


@spacy.registry.callbacks("org_heads.v1")
def make_org_heads() -> Callable[[Language], Language]:
    def setup(nlp: Language) -> Language:
        nlp.vocab.lex_attr_getters[PREFIX] = lambda w: f"{w[:1]}|{org_head(w)}"
        return nlp

    return setup
