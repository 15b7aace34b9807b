"""`streams worker`: topics checked, metrics served, models loaded, then the faust worker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import faust
from prometheus_client import start_http_server

from streams.app import create_app
from streams.errors import ConfigError
from streams.local_state import close_tables, open_tables
from streams.logs import demote_flow_control
from streams.metrics import create_metrics
from streams.pipeline import PIPELINE
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.transactions import SourcePartitionTransactions


def run_worker(settings: Settings, stages: Sequence[str] | None = None) -> None:
    """Run until SIGTERM or SIGINT; faust then commits, leaves the group and closes tables."""
    stages = list(PIPELINE) if stages is None else stages
    missing = [name for name in stages if name not in PIPELINE]
    if missing:
        raise ConfigError(f"stage {', '.join(missing)} is not part of this release's pipeline")
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
        if stopped_cleanly(app, worker):
            close_tables(tabledir)


def stopped_cleanly(app: faust.App, worker: faust.Worker) -> bool:
    """No crash, and under exactly_once no transaction left open with changes in it."""
    if worker.crash_reason is not None or app.crash_reason is not None:
        return False
    if not app.in_transaction:
        return True
    transactions = cast(SourcePartitionTransactions, app.consumer.transactions)
    return not transactions.left_open
