"""The faust.App, built from settings, with the agents of the stages this worker runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from streams.clients import ssl_context
from streams.consumer import LedgerConsumer
from streams.metrics import Metrics
from streams.monitor import watch
from streams.pipeline import register
from streams.settings import Settings
from streams.transactions import BufferCountingProducer, SourcePartitionTransactions


def credentials(settings: Settings) -> Any:
    """faust's form of the Kafka security settings; None for plaintext."""
    context = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.reveal() if settings.sasl_password else None,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(settings: Settings, metrics: Metrics, stages: Sequence[str]) -> faust.App:
    """A faust app running `stages`; several apps with one app_id share the work."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=credentials(settings),
        store="rocksdb://",
        datadir=str(settings.data_dir),
        autodiscover=False,
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_disable_leader=True,
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        broker_rebalance_timeout=max(settings.session_timeout_seconds, 10.0),
        producer_max_request_size=settings.max_message_bytes,
        producer_linger=0.005,
        consumer_max_fetch_size=settings.max_message_bytes,
        consumer_auto_offset_reset="earliest",
        web_port=settings.web_port,
        web_enabled=True,
    )
    # Per app, not on faust's classes: the transport builds its consumer, producer and
    # transaction manager from here.
    app.transport.Consumer = LedgerConsumer.for_settings(settings)  # type: ignore[misc]
    app.transport.Producer = BufferCountingProducer  # type: ignore[misc]
    app.transport.TransactionManager = SourcePartitionTransactions.for_app()  # type: ignore[misc]
    register(app, settings, metrics, stages)
    watch(app, settings, metrics, stages)
    return app
