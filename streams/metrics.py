"""Every Prometheus metric, built by one factory so each test can use a fresh registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
END_TO_END_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


@dataclass(frozen=True, slots=True)
class Metrics:
    """The metrics a worker exports; names are what dashboards and users rely on."""

    registry: CollectorRegistry
    messages: Counter
    dead_letters: Counter
    stage_seconds: Histogram
    end_to_end_seconds: Histogram
    consumer_lag: Gauge
    stalled_partitions: Gauge
    languages: Counter
    entities_per_article: Histogram
    places: Counter
    dedup: Counter
    loop_delay: Histogram


def create_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    registry = registry if registry is not None else CollectorRegistry()
    return Metrics(
        registry=registry,
        messages=Counter(
            "streams_messages",
            "Messages a stage finished, by outcome (ok or dead_letter).",
            ["stage", "outcome"],
            registry=registry,
        ),
        dead_letters=Counter(
            "streams_dead_letters",
            "Messages sent to the dead-letter topic, by stage and error code.",
            ["stage", "code"],
            registry=registry,
        ),
        stage_seconds=Histogram(
            "streams_stage_seconds",
            "Time a stage spends on one message.",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        end_to_end_seconds=Histogram(
            "streams_end_to_end_seconds",
            "From the input message's Kafka timestamp to the enriched record being sent.",
            buckets=END_TO_END_BUCKETS,
            registry=registry,
        ),
        consumer_lag=Gauge(
            "streams_consumer_lag",
            "Messages not yet processed, per input partition this worker owns.",
            ["topic", "partition"],
            registry=registry,
        ),
        stalled_partitions=Gauge(
            "streams_stalled_partitions",
            "Partitions assigned with messages waiting but no progress for a while.",
            ["stage"],
            registry=registry,
        ),
        languages=Counter(
            "streams_languages",
            "Articles by detected language.",
            ["code"],
            registry=registry,
        ),
        entities_per_article=Histogram(
            "streams_entities_per_article",
            "Distinct entities found in one article.",
            buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200),
            registry=registry,
        ),
        places=Counter(
            "streams_places",
            "Articles that name a place in a country (a country, or a region or city in it), "
            "once per article and country.",
            ["country"],
            registry=registry,
        ),
        dedup=Counter(
            "streams_dedup",
            "Dedup verdicts, by status.",
            ["status"],
            registry=registry,
        ),
        loop_delay=Histogram(
            "streams_event_loop_delay_seconds",
            "How late the worker's event loop woke a timer: commits, fetches and the "
            "group's callbacks wait as long.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=registry,
        ),
    )
