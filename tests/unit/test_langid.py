"""streams.langid on real text through the real models."""

from __future__ import annotations

import dataclasses
import statistics
import time

import pytest

from streams.stages.language.detector import Detection, LanguageIdentifier

SENTENCES = {
    "de": "Die Bundesregierung hat am Mittwoch neue Maßnahmen gegen die steigenden Preise "
    "beschlossen.",
    "en": "The government announced on Wednesday that it would raise interest rates again.",
    "fr": "Le gouvernement a annoncé mercredi de nouvelles mesures contre la hausse des prix.",
    "ru": "Правительство в среду объявило о новых мерах против роста цен на продукты.",
    "ja": "政府は水曜日、物価上昇に対する新たな対策を発表した。",
    "nb": "Regjeringen la onsdag fram nye tiltak mot de økende prisene på strøm og mat.",
    "es": "El gobierno anunció el miércoles nuevas medidas contra la subida de los precios.",
}
PARAGRAPH = " ".join(
    [
        SENTENCES["de"],
        "Der Kanzler sagte, man werde die Entlastungen für Familien bis Ende des Jahres "
        "verlängern und die Stromsteuer senken.",
        "Die Opposition kritisierte das Paket als zu spät und zu klein für die Betriebe.",
    ]
)


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize("code", ["de", "en", "fr", "ru", "ja", "nb", "es"])
def test_sentences_in_their_language(identifier: LanguageIdentifier, code: str) -> None:
    detection = identifier.detect(SENTENCES[code])
    assert detection.code == code
    assert detection.confidence > 0.5


@pytest.mark.parametrize(
    "text", ["", "   \n\t ", "12345 678,90", "?!… — (42) %", "\x00\x01\x7f", "😀👍 🎉"]
)
def test_no_letters_is_undetermined(identifier: LanguageIdentifier, text: str) -> None:
    assert identifier.detect(text) == Detection("und", 0.0, "none")


def test_any_letter_gets_a_language(identifier: LanguageIdentifier) -> None:
    assert identifier.detect("123 a 456").code != "und"


def test_links_carry_no_language(identifier: LanguageIdentifier) -> None:
    links = "https://www.example.com/news/article?id=12 info@example.org"
    assert identifier.detect(links).code == "und"
    text = "Mehr dazu unter https://www.example.com/the-english-words-here " + SENTENCES["de"]
    assert identifier.detect(text).code == "de"


def test_confidence_is_a_probability_and_grows_with_text(identifier: LanguageIdentifier) -> None:
    texts = ["Haus", "Bundesregierung beschlossen", SENTENCES["de"], PARAGRAPH, PARAGRAPH * 20]
    detections = [identifier.detect(text) for text in texts]
    assert all(detection.code == "de" for detection in detections)
    assert all(0.0 <= detection.confidence <= 1.0 for detection in detections)
    one_word, two_words, sentence, paragraph, article = (d.confidence for d in detections)
    assert one_word < two_words < sentence
    assert one_word < paragraph < article


def test_short_text_goes_to_the_ensemble_long_text_to_fasttext(
    identifier: LanguageIdentifier,
) -> None:
    assert identifier.detect("verdiene bezeichnung").detector == "fasttext-lid176+lingua+cld2"
    assert identifier.detect(PARAGRAPH).detector == "fasttext-lid176"


def test_control_and_invisible_characters_do_not_break_it(identifier: LanguageIdentifier) -> None:
    noisy = (
        "\ufeffDie\x00 Bundes\u00adregierung\x1b[0m hat\r\n am\u200b Mittwoch\t\tneue "
        "Maßnahmen\ud800 gegen\x85 die steigenden\u202e Preise beschlossen.\x07"
    )
    detection = identifier.detect(noisy)
    assert detection.code == "de"
    assert 0.0 <= detection.confidence <= 1.0


def test_codes_are_iso_639_1_where_one_exists(identifier: LanguageIdentifier) -> None:
    codes = {identifier.detect(text).code for text in SENTENCES.values()}
    assert codes == set(SENTENCES)
    assert all(len(code) == 2 for code in codes)


def test_language_without_iso_639_1_gets_639_3(identifier: LanguageIdentifier) -> None:
    cantonese = "佢哋今日喺度食緊飯，你食咗未呀？我哋聽日一齊去睇戲好唔好呀，佢話佢唔得閒喎。" * 6
    assert identifier.detect(cantonese).code == "yue"


def test_candidate_set_is_respected() -> None:
    restricted = LanguageIdentifier({"de", "en"})
    for text in [SENTENCES["fr"], SENTENCES["ja"], SENTENCES["es"] * 5, "Bonjour"]:
        assert restricted.detect(text).code in {"de", "en"}
    assert restricted.detect(SENTENCES["en"]).code == "en"


def test_text_outside_the_candidate_set_is_not_confident() -> None:
    restricted = LanguageIdentifier({"de", "en"})
    inside = restricted.detect(SENTENCES["en"])
    outside = restricted.detect(SENTENCES["es"])
    assert outside.confidence < 0.5 < inside.confidence


def test_candidate_set_accepts_iso_639_3() -> None:
    restricted = LanguageIdentifier(["deu", "FRA", " nob "])
    assert restricted.detect(SENTENCES["fr"]).code == "fr"
    assert restricted.detect(SENTENCES["nb"]).code == "nb"


def test_unknown_candidate_codes_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="xx"):
        LanguageIdentifier(["de", "xx"])
    with pytest.raises(ValueError):
        LanguageIdentifier([])


def test_detection_is_immutable(identifier: LanguageIdentifier) -> None:
    detection = identifier.detect(SENTENCES["en"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        detection.code = "de"  # type: ignore[misc]


@pytest.mark.benchmark
def test_five_kilobyte_article_costs_under_a_millisecond(identifier: LanguageIdentifier) -> None:
    article = (PARAGRAPH + " ") * (5000 // len(PARAGRAPH) + 1)
    identifier.detect(article)
    seconds = []
    for _ in range(51):
        start = time.perf_counter()
        identifier.detect(article)
        seconds.append(time.perf_counter() - start)
    assert statistics.median(seconds) < 0.001
