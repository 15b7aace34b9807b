"""The faust.App, built from settings, with an agent for each stage this worker runs."""

from __future__ import annotations

from collections.abc import Sequence

import faust

from streams.kafka import eos
from streams.kafka.agent import Route, StageAgent
from streams.kafka.clients import faust_credentials
from streams.kafka.monitor import watch
from streams.kafka.topics import Declaration, declarations
from streams.metrics import Metrics
from streams.settings import Settings
from streams.stages import NAMES, build


def create_app(settings: Settings, metrics: Metrics, stages: Sequence[str]) -> faust.App:
    """A faust app running `stages`; several apps with one app_id share the work."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
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
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_bind=settings.web_bind,
        # Even when the web server is on, nothing reads tables or routes keys through it.
        web_tables_enabled=False,
        web_router_enabled=False,
    )
    eos.install(app, settings)
    register(app, settings, metrics, stages)
    watch(app, settings, metrics, stages)
    return app


def register(app: faust.App, settings: Settings, metrics: Metrics, names: Sequence[str]) -> None:
    """Add one agent per named stage; each sends to the next stage's topic, the last to output."""
    topics = {topic.name: _topic(app, topic) for topic in declarations(settings)}
    inputs = [topics[settings.stage_topics[name]] for name in NAMES]
    outputs = [*inputs[1:], topics[settings.topic_enriched]]
    for index, name in enumerate(NAMES):
        if name not in names:
            continue
        before = set(app.tables)
        stage = build(name, settings, app)
        made = [table for table_name, table in app.tables.items() if table_name not in before]
        eos.own_tables(app, settings.stage_topics[name], made)
        route = Route(
            target=outputs[index],
            dlq=topics[settings.topic_dlq],
            final=index == len(NAMES) - 1,
            first=index == 0,
            max_bytes=settings.max_message_bytes,
            transactional=settings.processing_guarantee == "exactly_once",
        )
        agent = StageAgent(stage, route, metrics)
        app.agent(inputs[index], name=f"{settings.app_id}.{name}")(agent.run)


def _topic(app: faust.App, topic: Declaration) -> faust.TopicT:
    return app.topic(
        topic.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=topic.partitions,
        replicas=topic.replicas,
        config=topic.config,
    )
