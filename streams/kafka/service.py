"""A worker process: topics checked, metrics served, local state vetted, then faust's worker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import faust
from prometheus_client import start_http_server

from streams.errors import ConfigError
from streams.kafka import eos
from streams.kafka.app import create_app
from streams.kafka.local_state import close_tables, open_tables
from streams.kafka.topics import ensure_topics
from streams.logs import demote_flow_control
from streams.metrics import create_metrics
from streams.settings import Settings
from streams.stages import NAMES


def run_worker(settings: Settings, stages: Sequence[str] = NAMES) -> None:
    """Run until SIGTERM or SIGINT; faust then commits, leaves the group and closes tables."""
    asyncio.run(ensure_topics(settings))
    metrics = create_metrics()
    app = create_app(settings, metrics, stages)
    if settings.metrics_port:
        try:
            start_http_server(settings.metrics_port, registry=metrics.registry)
        except OSError as error:
            raise ConfigError(
                f"cannot serve metrics on port {settings.metrics_port}: {error.strerror}"
            ) from None
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    demote_flow_control()
    tabledir = Path(app.conf.tabledir)
    open_tables(tabledir)
    try:
        worker.execute_from_commandline()
    finally:
        if worker.crash_reason is None and eos.stopped_cleanly(app):
            close_tables(tabledir)
