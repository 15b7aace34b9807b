"""Lag and stalled partitions, sampled by every worker for the partitions it owns.

A consumer that silently stops is the most reported failure of faust and Quix Streams
deployments: a partition whose messages wait while its committed offset does not move
for `stall_seconds` counts as stalled, so an alert can fire before users notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping
from functools import partial
from typing import Any

import faust
from aiokafka.errors import KafkaError

from streams.kafka.offsets import OffsetReader, Progress
from streams.metrics import Metrics
from streams.settings import Settings

log = logging.getLogger(__name__)

Partition = tuple[str, int]


class LagMonitor:
    """Turns offset samples into the lag and stalled-partition gauges."""

    def __init__(self, metrics: Metrics, stages: Mapping[str, str], stall_seconds: float) -> None:
        self.metrics = metrics
        self.stages = stages
        """Input topic -> stage name, for the topics this worker consumes."""
        self.stall_seconds = stall_seconds
        self._moved: dict[Partition, tuple[int | None, float]] = {}
        self._reported: set[Partition] = set()

    def update(
        self, progress: Iterable[Progress], owned: Collection[Partition], now: float
    ) -> None:
        """Record one sample; `now` is a monotonic clock reading in seconds."""
        stalled = dict.fromkeys(self.stages.values(), 0)
        seen: set[Partition] = set()
        for item in progress:
            key = (item.topic, item.partition)
            if key not in owned or item.topic not in self.stages:
                continue
            seen.add(key)
            self.metrics.consumer_lag.labels(topic=item.topic, partition=str(item.partition)).set(
                item.lag
            )
            committed, since = self._moved.get(key, (None, now))
            if committed != item.committed or item.lag == 0:
                since = now
            self._moved[key] = (item.committed, since)
            if item.lag > 0 and now - since >= self.stall_seconds:
                stalled[self.stages[item.topic]] += 1
        for topic, partition in self._reported - seen:
            self.metrics.consumer_lag.remove(topic, str(partition))
            self._moved.pop((topic, partition), None)
        self._reported = seen
        for stage, count in stalled.items():
            self.metrics.stalled_partitions.labels(stage=stage).set(count)


class _Sampler:
    """The lag timer's reader: opened on the first sample, closed once at shutdown.

    A sample may be waiting on the broker when the worker stops, so closing waits for it
    rather than pulling the reader from under it.
    """

    def __init__(self, app: faust.App, settings: Settings, monitor: LagMonitor) -> None:
        self.app = app
        self.settings = settings
        self.monitor = monitor
        self._reader: OffsetReader | None = None
        self._closed = False
        self._lock = asyncio.Lock()

    async def sample(self) -> None:
        async with self._lock:
            if self._closed:
                return
            try:
                if self._reader is None:
                    # aiokafka clients bind to the running loop, which exists only from here on.
                    self._reader = OffsetReader(self.settings)
                    await self._reader.start()
                progress = await self._reader.progress(self.settings.app_id, self.monitor.stages)
            except KafkaError as error:
                log.warning("cannot read consumer lag: %s", error)
                return
        owned = {(tp.topic, tp.partition) for tp in self.app.consumer.assignment()}
        self.monitor.update(progress, owned, self.app.loop.time())

    async def close(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        async with self._lock:
            self._closed = True
            if self._reader is not None:
                await self._reader.stop()


LOOP_PROBE_SECONDS = 0.25
"""How often the event loop's delay is sampled."""


async def probe_loop(metrics: Metrics) -> None:
    """Observe how late each of a series of short sleeps wakes, for as long as the worker runs.

    A stage step that held the loop shows here as a delay of its own length.
    """
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LOOP_PROBE_SECONDS
        await asyncio.sleep(LOOP_PROBE_SECONDS)
        metrics.loop_delay.observe(max(0.0, loop.time() - due))


def watch(app: faust.App, settings: Settings, metrics: Metrics, stages: Collection[str]) -> None:
    """Sample the group's offsets on a timer, and the event loop's delay, inside the
    worker's own event loop."""
    topics = {settings.stage_topics[stage]: stage for stage in stages}
    sampler = _Sampler(app, settings, LagMonitor(metrics, topics, settings.stall_seconds))
    app.timer(settings.lag_interval_seconds, name="streams.lag")(sampler.sample)
    app.on_before_shutdown.connect(sampler.close)
    app.task(partial(probe_loop, metrics))
