"""`streams worker`: topics checked, metrics served, models loaded, then the faust worker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import faust
from prometheus_client import start_http_server

from streams.app import create_app
from streams.errors import ConfigError
from streams.logs import demote_flow_control
from streams.metrics import create_metrics
from streams.pipeline import PIPELINE
from streams.settings import Settings
from streams.topics import ensure_topics


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
    worker.execute_from_commandline()
