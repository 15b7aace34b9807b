"""Every setting is read from the environment in one place, checked, and explained when wrong."""

from __future__ import annotations

import pytest

from streams.errors import ConfigError
from streams.settings import load_settings, parse_pipelines
from streams.stages import NAMES, parse_stages


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert not settings.kafka_bootstrap_configured
    assert settings.processing_guarantee == "exactly_once"
    assert settings.partitions == 4
    assert settings.dedup_threshold == 0.5
    assert settings.entity_pipelines is None


def test_topics_follow_the_stage_registry() -> None:
    settings = load_settings({"STREAMS_TOPIC_PREFIX": "news", "STREAMS_PARTITIONS": "6"})
    assert list(settings.stage_topics) == list(NAMES)
    assert settings.stage_topics == {
        "validate": "news.raw",
        "language": "news.language",
        "entities": "news.entities",
        "dedup": "news.dedup",
    }
    assert settings.partitions_of("news.dedup") == 1
    assert settings.partitions_of("news.language") == 6
    assert settings.partitions_of("news.enriched") == 6


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STREAMS_PARTITIONS": "four"}, "STREAMS_PARTITIONS must be a whole number"),
        ({"STREAMS_PARTITIONS": "0"}, "must be at least 1"),
        ({"STREAMS_DEDUP_THRESHOLD": "1.5"}, "at most 1"),
        ({"STREAMS_PROCESSING_GUARANTEE": "maybe"}, "must be one of exactly_once"),
        ({"STREAMS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_USERNAME"),
        ({"STREAMS_ENTITY_PIPELINES": "en"}, "language=pipeline"),
    ],
)
def test_a_wrong_setting_is_one_clear_sentence(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_password_never_shows_in_a_repr() -> None:
    settings = load_settings(
        {
            "STREAMS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "STREAMS_KAFKA_SASL_USERNAME": "reader",
            "STREAMS_KAFKA_SASL_PASSWORD": "hunter2",
        }
    )
    assert "hunter2" not in repr(settings)
    assert settings.sasl_password is not None and settings.sasl_password.reveal() == "hunter2"


def test_entity_pipelines_are_parsed_per_language() -> None:
    assert parse_pipelines("en=en_core_web_sm, DE=/models/de ,") == {
        "en": "en_core_web_sm",
        "de": "/models/de",
    }
    assert parse_pipelines("") == {}


def test_stage_names_come_back_in_flow_order_and_unknown_ones_are_named() -> None:
    assert parse_stages("dedup, validate") == ("validate", "dedup")
    with pytest.raises(ConfigError, match="unknown stage tagging"):
        parse_stages("validate,tagging")
