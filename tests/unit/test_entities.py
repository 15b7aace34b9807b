"""The entities stage: label mapping, merging, spans, and the real pipelines on short texts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from streams import codec
from streams.errors import ConfigError
from streams.records import Entity
from streams.stages.entities.mentions import Mention, merge_mentions, propagate
from streams.stages.entities.tagger import (
    DEFAULT_PIPELINES,
    GERMAN_PIPELINE,
    EntityTagger,
    map_label,
    split_text,
)

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_65e81ee260f6cf05.txt"


def mentions(text: str, *marked: tuple[str, str]) -> list[Mention]:
    """Mentions of each (surface, label) at every place it occurs in text."""
    out = []
    for surface, label in marked:
        start = text.find(surface)
        while start >= 0:
            out.append(Mention(start, start + len(surface), surface, label))
            start = text.find(surface, start + 1)
    return out


def at(text: str, surface: str, label: str, nth: int = 0) -> Mention:
    """The nth occurrence of surface in text as a mention."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(surface, start + 1)
    return Mention(start, start + len(surface), surface, label)


def assert_spans_slice(text: str, entities: Sequence[Entity]) -> None:
    for entity in entities:
        forms = {entity.text, *entity.aliases}
        assert entity.count == len(entity.spans)
        for start, end in entity.spans:
            assert text[start:end] in forms, (entity, text[start:end])


# --- label mapping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "ours"),
    [
        ("PERSON", "PER"),
        ("PER", "PER"),
        ("ORG", "ORG"),
        ("GPE", "LOC"),
        ("LOC", "LOC"),
        ("FAC", "LOC"),
        ("NORP", "MISC"),
        ("EVENT", "MISC"),
        ("PRODUCT", "MISC"),
        ("WORK_OF_ART", "MISC"),
        ("LAW", "MISC"),
        ("LANGUAGE", "MISC"),
        ("MISC", "MISC"),
        ("DATE", None),
        ("CARDINAL", None),
        ("MONEY", None),
        ("PERCENT", None),
        ("TIME", None),
        ("QUANTITY", None),
        ("ORDINAL", None),
    ],
)
def test_label_mapping(label: str, ours: str | None) -> None:
    assert map_label(label) == ours


# --- merging -----------------------------------------------------------------------------


def test_surname_joins_full_name_and_longest_is_canonical() -> None:
    text = "Putin kam. Wladimir Putin traf Kim. Putin sagte, Putin werde reisen."
    marked = [
        at(text, "Putin", "PER"),
        at(text, "Wladimir Putin", "PER"),
        at(text, "Kim", "PER"),
        at(text, "Putin", "PER", nth=2),
        at(text, "Putin", "PER", nth=3),
    ]
    entities = merge_mentions(marked)
    assert [(e.text, e.label, e.count, tuple(e.aliases)) for e in entities] == [
        ("Wladimir Putin", "PER", 4, ("Putin",)),
        ("Kim", "PER", 1, ()),
    ]
    # Ordered by the first mention, which is the short form here.
    assert entities[0].spans[0] == [0, 5]
    assert_spans_slice(text, entities)


def test_german_genitive_joins_its_base_form() -> None:
    text = "Russland liefert. Russlands Armee wartet. Putins Sprecher sagte, Putin komme."
    marked = [
        at(text, "Russland", "LOC"),
        at(text, "Russlands", "LOC"),
        at(text, "Putins", "PER"),
        at(text, "Putin", "PER", nth=1),
    ]
    entities = merge_mentions(marked)
    assert [(e.text, e.count, tuple(e.aliases)) for e in entities] == [
        ("Russland", 2, ("Russlands",)),
        ("Putin", 2, ("Putins",)),
    ]
    assert_spans_slice(text, entities)


def test_inflected_surname_joins_full_name() -> None:
    text = "Wladimir Putin kam. Putins Sprecher Dmitri Peskow sagte das."
    entities = merge_mentions(
        [
            at(text, "Wladimir Putin", "PER"),
            at(text, "Putins", "PER"),
            at(text, "Dmitri Peskow", "PER"),
        ]
    )
    assert [(e.text, tuple(e.aliases)) for e in entities] == [
        ("Wladimir Putin", ("Putins",)),
        ("Dmitri Peskow", ()),
    ]
    assert_spans_slice(text, entities)


def test_case_variants_merge_and_ambiguous_short_names_do_not() -> None:
    text = "KIM JONG UN und Kim Jong Un; Kim Yo Jong. Kim lachte."
    entities = merge_mentions(
        [
            at(text, "KIM JONG UN", "PER"),
            at(text, "Kim Jong Un", "PER"),
            at(text, "Kim Yo Jong", "PER"),
            at(text, "Kim", "PER", nth=2),
        ]
    )
    assert [(e.text, e.count, tuple(e.aliases)) for e in entities] == [
        ("Kim Jong Un", 2, ("KIM JONG UN",)),
        ("Kim Yo Jong", 1, ()),
        ("Kim", 1, ()),
    ]


def test_different_names_stay_apart_and_order_is_by_first_span() -> None:
    text = "Bayern und Bayer. Berlin, Bern."
    entities = merge_mentions(
        [
            at(text, "Bayer", "ORG", nth=1),
            at(text, "Bayern", "LOC"),
            at(text, "Berlin", "LOC"),
            at(text, "Bern", "LOC"),
        ]
    )
    assert [e.text for e in entities] == ["Bayern", "Bayer", "Berlin", "Bern"]


def test_label_is_the_majority_and_output_is_json_ready() -> None:
    text = "Nordkorea, Nordkorea, Nordkorea."
    marked = mentions(text, ("Nordkorea", "LOC"))
    marked[1] = Mention(marked[1].start, marked[1].end, "Nordkorea", "ORG")
    (entity,) = merge_mentions(marked)
    assert codec.loads(codec.dumps(entity)) == {
        "text": "Nordkorea",
        "label": "LOC",
        "count": 3,
        "aliases": [],
        "spans": [[0, 9], [11, 20], [22, 31]],
        "link": None,
    }


def test_merging_is_deterministic() -> None:
    text = "Putin, Wladimir Putin, PUTIN, Putins, Russland, Russlands."
    marked = [
        at(text, "Putin", "PER"),
        at(text, "Wladimir Putin", "PER"),
        at(text, "PUTIN", "PER"),
        at(text, "Putins", "PER"),
        at(text, "Russland", "LOC"),
        at(text, "Russlands", "LOC"),
    ]
    first = merge_mentions(marked)
    assert merge_mentions(list(reversed(marked))) == first
    assert first[0].text == "Wladimir Putin"
    assert first[0].aliases == ["PUTIN", "Putin", "Putins"]
    assert_spans_slice(text, first)


# --- one sense per article -----------------------------------------------------------------


def test_names_of_tagged_people_are_found_where_the_model_missed_them() -> None:
    text = "Wladimir Putin kam. Putin sagte, Putins Plan sei gut. Putingegner und TASS, TASS."
    tagged = [at(text, "Wladimir Putin", "PER"), at(text, "TASS", "ORG")]
    found = propagate(text, tagged)
    assert [(m.text, m.label) for m in found] == [
        ("Wladimir Putin", "PER"),
        ("Putin", "PER"),
        ("Putins", "PER"),
        ("TASS", "ORG"),
        ("TASS", "ORG"),
    ]
    entities = merge_mentions(found)
    assert [(e.text, e.count, tuple(e.aliases)) for e in entities] == [
        ("Wladimir Putin", 3, ("Putin", "Putins")),
        ("TASS", 2, ()),
    ]
    assert_spans_slice(text, entities)


def test_a_title_inside_a_person_span_is_not_spread() -> None:
    text = "Präsident Putin kam. Der Präsident und Putin sprachen."
    found = propagate(text, [at(text, "Präsident Putin", "PER")])
    assert [m.text for m in found] == ["Präsident Putin", "Putin"]


def test_a_single_tag_of_one_word_is_not_spread() -> None:
    text = "Das Paar kam. Das Paar ging."
    assert propagate(text, [at(text, "Paar", "PER")]) == [at(text, "Paar", "PER")]


# --- configuration and long text -----------------------------------------------------------


def test_split_text_covers_text_at_boundaries() -> None:
    text = ("Ein Absatz mit Wörtern. " * 30 + "\n\n") * 20 + "x" * 50
    pieces = list(split_text(text, 1000))
    assert "".join(piece for _, piece in pieces) == text
    assert all(text[off : off + len(piece)] == piece for off, piece in pieces)
    assert all(len(piece) <= 1000 for _, piece in pieces)
    assert all(piece.endswith((" ", "\n")) for _, piece in pieces[:-1])


def test_bad_pipeline_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot be loaded|neither"):
        EntityTagger({"de": str(tmp_path / "missing")})
    (tmp_path / "broken").mkdir()
    with pytest.raises(ConfigError) as info:
        EntityTagger({"de": str(tmp_path / "broken")})
    assert "\n" not in str(info.value)


def test_unknown_package_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="xx_no_such_pipeline"):
        EntityTagger({"xx": "xx_no_such_pipeline"})


# --- the shipped pipelines -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()


def test_default_pipelines_and_their_names(tagger: EntityTagger) -> None:
    assert set(tagger.taggers) == set(DEFAULT_PIPELINES) == {"en", "fr", "de"}
    assert tagger.taggers["de"] == "de_streams_ner-0.1.0"
    assert tagger.taggers["en"].startswith("en_core_web_sm")
    assert tagger.taggers["fr"] == "fr_core_news_sm-3.8.0"
    assert GERMAN_PIPELINE.is_dir()
    for code in ("en", "fr", "de"):
        nlp = tagger.pipeline(code)
        assert nlp is not None
        assert "ner" in nlp.pipe_names
        assert not {"parser", "tagger", "lemmatizer", "attribute_ruler"} & set(nlp.pipe_names)


def test_language_without_pipeline(tagger: EntityTagger) -> None:
    result = tagger.tag("Правительство в среду объявило о новых мерах.", "ru")
    assert result.tagger is None
    assert result.entities == ()


@pytest.mark.parametrize(
    ("language", "text", "person", "place"),
    [
        (
            "de",
            "Bundeskanzler Olaf Scholz reiste am Montag nach Paris, wo er den französischen "
            "Präsidenten traf. Scholz sagte in Paris, die Gespräche seien gut gewesen.",
            "Olaf Scholz",
            "Paris",
        ),
        (
            "en",
            "Prime Minister Keir Starmer flew to Washington on Monday. Starmer said the talks "
            "in Washington had gone well.",
            "Keir Starmer",
            "Washington",
        ),
        (
            "fr",
            "Le président Emmanuel Macron s'est rendu lundi à Marseille. Macron a déclaré à "
            "Marseille que les discussions avaient été utiles.",
            "Emmanuel Macron",
            "Marseille",
        ),
    ],
)
def test_real_pipelines_find_a_person_and_a_place(
    tagger: EntityTagger, language: str, text: str, person: str, place: str
) -> None:
    result = tagger.tag(text, language)
    assert result.tagger == tagger.taggers[language]
    found = {(e.text, e.label): e for e in result.entities}
    assert (person, "PER") in found, result.entities
    assert (place, "LOC") in found, result.entities
    assert_spans_slice(text, result.entities)


def test_seed_article(tagger: EntityTagger) -> None:
    text = SEED.read_text(encoding="utf-8")
    result = tagger.tag(text, "de")
    assert_spans_slice(text, result.entities)
    by_text = {e.text: e for e in result.entities}
    assert by_text["Wladimir Putin"].label == "PER"
    assert "Putin" in by_text["Wladimir Putin"].aliases
    assert by_text["Wladimir Putin"].count >= 10
    for place in ("Russland", "Nordkorea", "Wladiwostok"):
        assert by_text[place].label == "LOC", by_text.get(place)
    starts = [e.spans[0] for e in result.entities]
    assert starts == sorted(starts)


def test_long_text_spans_stay_correct(tagger: EntityTagger) -> None:
    paragraph = "Olaf Scholz traf in Berlin den Präsidenten von Frankreich. " * 40
    text = "\n\n".join([paragraph] * 60)  # ~140,000 characters, several pieces
    result = tagger.tag(text, "de")
    assert_spans_slice(text, result.entities)
    total = sum(e.count for e in result.entities)
    assert total >= 60 * 40 * 2


def test_a_bare_compass_direction_is_no_place_but_a_longer_name_with_one_is() -> None:
    import spacy
    from spacy.tokens import Span

    from streams.stages.entities.tagger import _CLEANUP, _register_components

    _register_components()
    nlp = spacy.blank("de")
    doc = nlp("Im Norden und im Nahen Osten sowie in Moskau.")
    doc.ents = [
        Span(doc, 1, 2, label="LOC"),
        Span(doc, 4, 6, label="LOC"),
        Span(doc, 8, 9, label="LOC"),
    ]
    cleaned = nlp.add_pipe(_CLEANUP)(doc)
    assert [ent.text for ent in cleaned.ents] == ["Nahen Osten", "Moskau"]
