"""Lag and stall detection from offset samples, without Kafka."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.kafka.monitor import LagMonitor
from streams.kafka.offsets import Progress
from streams.metrics import create_metrics


def sample(committed: int | None, end: int, partition: int = 0) -> Progress:
    return Progress("articles.raw", partition, start=0, end=end, committed=committed)


def gauge(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_lag_is_end_minus_committed_for_owned_partitions_only() -> None:
    metrics = create_metrics()
    monitor = LagMonitor(metrics, {"articles.raw": "validate"}, stall_seconds=60)
    monitor.update([sample(7, 10), sample(None, 4, partition=1)], {("articles.raw", 0)}, now=0)
    assert gauge(metrics.registry, "streams_consumer_lag", topic="articles.raw", partition="0") == 3
    assert (
        gauge(metrics.registry, "streams_consumer_lag", topic="articles.raw", partition="1") is None
    )


def test_a_partition_with_waiting_messages_and_no_progress_is_stalled() -> None:
    metrics = create_metrics()
    monitor = LagMonitor(metrics, {"articles.raw": "validate"}, stall_seconds=60)
    owned = {("articles.raw", 0)}
    monitor.update([sample(5, 10)], owned, now=0)
    monitor.update([sample(5, 12)], owned, now=59)
    assert gauge(metrics.registry, "streams_stalled_partitions", stage="validate") == 0
    monitor.update([sample(5, 12)], owned, now=61)
    assert gauge(metrics.registry, "streams_stalled_partitions", stage="validate") == 1
    monitor.update([sample(6, 12)], owned, now=62)
    assert gauge(metrics.registry, "streams_stalled_partitions", stage="validate") == 0


def test_an_idle_caught_up_partition_is_not_stalled_and_revoked_ones_are_dropped() -> None:
    metrics = create_metrics()
    monitor = LagMonitor(metrics, {"articles.raw": "validate"}, stall_seconds=1)
    monitor.update([sample(10, 10)], {("articles.raw", 0)}, now=0)
    monitor.update([sample(10, 10)], {("articles.raw", 0)}, now=100)
    assert gauge(metrics.registry, "streams_stalled_partitions", stage="validate") == 0
    monitor.update([sample(10, 10)], set(), now=101)
    assert (
        gauge(metrics.registry, "streams_consumer_lag", topic="articles.raw", partition="0") is None
    )
