"""The thin faust agent that runs one stage: it reads, calls, sends and counts.

Its single `except Exception` is where a message becomes a dead letter: faust
acknowledges an event even when the agent raises and then the agent dies, so nothing
may escape the loop. A send Kafka refuses is not the article's fault: it stops the
worker (DeliveryFailed), and the work is done again from the last commit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar, cast

import faust
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from faust.types import Message

from streams.dlq import Letter, minimal_letter, reject
from streams.errors import DeliveryFailed, TooLarge
from streams.kafka import eos
from streams.kafka.io import Headers
from streams.metrics import Metrics
from streams.records import Envelope, RawMessage, Source, send_seconds
from streams.stages import Stage

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_stopping: set[asyncio.Future[None]] = set()
"""The worker's crash once under way, held so it is not garbage-collected before it runs."""


class Sender(Protocol):
    """Where the agent's records go: a faust topic, or a stand-in in the unit tests."""

    def get_topic_name(self) -> str: ...

    async def send(
        self, *, key: bytes | None, value: bytes, timestamp: float, headers: Headers
    ) -> Awaitable[Any]: ...


class Ledger(Protocol):
    """What the agent tells the consumer: which offsets it took and finished."""

    def first_time(self, message: Message) -> bool: ...

    def finished(self, message: Message) -> None: ...


@dataclass(frozen=True, slots=True)
class Route:
    """Where one stage's agent sends: the next stage (or the output), and dead letters."""

    target: Sender
    dlq: Sender
    final: bool
    """The last stage writes the enriched record rather than an envelope."""
    first: bool
    """The first stage reads the producers' messages; later ones read envelopes."""
    max_bytes: int
    transactional: bool
    """exactly_once: a send joins the open transaction, so its message is finished at once."""


async def deliver(
    topic: Sender, *, key: bytes | None, value: bytes, timestamp_ms: int, headers: Headers
) -> Awaitable[Any]:
    """Hand one record to the producer; its future resolves once the broker has it.

    A record over the size limit is the article's fault (TooLarge, a dead letter); any
    other refusal is the broker's (DeliveryFailed), and must never cost an article.
    """
    name = topic.get_topic_name()
    try:
        return await topic.send(
            key=key, value=value, timestamp=send_seconds(timestamp_ms), headers=headers
        )
    except (KafkaError, ProducerSendError) as error:
        cause = error.__cause__ if isinstance(error, ProducerSendError) else error
        if isinstance(cause, MessageSizeTooLargeError):
            size = len(value) + len(key or b"")
            raise TooLarge(
                f"The record for {name} has {size:,} bytes, over the message size limit."
            ) from error
        raise DeliveryFailed(f"Kafka did not take a record for {name}: {cause!r}") from error


async def deliver_letter(dlq: Sender, letter: Letter, headers: Headers) -> Awaitable[Any]:
    """Send a dead letter; one that still does not fit goes as a minimal letter instead."""
    timestamp_ms = letter.record.source.timestamp
    try:
        return await deliver(
            dlq, key=letter.key, value=letter.value, timestamp_ms=timestamp_ms, headers=headers
        )
    except TooLarge:
        minimal = minimal_letter(letter)
        return await deliver(
            dlq, key=None, value=minimal.value, timestamp_ms=timestamp_ms, headers=[]
        )


class StageAgent:
    """One stage's loop over its stream; `run` is what faust runs as the agent."""

    def __init__(self, stage: Stage, route: Route, metrics: Metrics) -> None:
        self.stage = stage
        self.route = route
        self.metrics = metrics
        self._seconds = metrics.stage_seconds.labels(stage=stage.name)
        self._succeeded = metrics.messages.labels(stage=stage.name, outcome="ok")
        self._failed = metrics.messages.labels(stage=stage.name, outcome="dead_letter")

    async def handle(self, raw: Message) -> Awaitable[Any]:
        """Send the message's output, or its dead letter; return the send's future."""
        stage, route = self.stage, self.route
        timestamp_ms = round(raw.timestamp * 1000)
        message = RawMessage(
            key=raw.key,
            value=raw.value,
            source=Source(raw.topic, raw.partition, raw.offset, timestamp_ms),
        )
        headers = cast(Headers, list(raw.headers or ()))
        try:
            envelope = (
                await in_thread(stage.step, message) if stage.blocking else stage.step(message)
            )
            value = envelope.enriched(timestamp_ms) if route.final else envelope.to_json()
            sent = await deliver(
                route.target,
                key=envelope.id.encode(),
                value=value,
                timestamp_ms=timestamp_ms,
                headers=headers,
            )
            stage.keep()
        except DeliveryFailed:
            raise
        except Exception as error:  # noqa: BLE001 - the one place a message becomes a dead letter
            letter = reject(
                stage=stage.name,
                error=error,
                first_stage=route.first,
                message=message,
                max_bytes=route.max_bytes,
            )
            record = letter.record
            log.warning(
                "%s: dead letter %s for %s[%d]@%d: %s",
                stage.name,
                record.error_code,
                record.source.topic,
                record.source.partition,
                record.source.offset,
                record.message,
            )
            sent = await deliver_letter(route.dlq, letter, headers)
            self.metrics.dead_letters.labels(stage=stage.name, code=record.error_code).inc()
            self._failed.inc()
        else:
            self._count(envelope)
        return sent

    def _count(self, envelope: Envelope) -> None:
        self.stage.observe(self.metrics, envelope)
        self._succeeded.inc()
        if self.route.final:
            ingested = envelope.source.timestamp / 1000
            self.metrics.end_to_end_seconds.observe(max(0.0, time.time() - ingested))

    async def consume(
        self,
        events: Any,
        ledger: Ledger,
        crash: Callable[[BaseException], None],
        scope: Callable[[Any], AbstractAsyncContextManager[None]] = lambda tp: nullcontext(),
    ) -> None:
        """Process each event once, inside its transaction's scope; stop at the first send
        Kafka refuses."""
        async for event in events:
            raw = event.message
            if not ledger.first_time(raw):
                continue
            started = time.perf_counter()
            async with scope(raw.tp):
                try:
                    sent = await self.handle(raw)
                except DeliveryFailed as failure:
                    crash(failure)
                    return
                # Under exactly_once the open transaction holds the send, so the message is
                # finished now; otherwise only once the broker has the record.
                cast(asyncio.Future[Any], sent).add_done_callback(
                    partial(_on_delivery, ledger, raw, crash, finish=not self.route.transactional)
                )
                if self.route.transactional:
                    ledger.finished(raw)
            self._seconds.observe(time.perf_counter() - started)

    async def run(self, stream: faust.StreamT[bytes]) -> None:
        app = stream.app

        def crash(failure: BaseException) -> None:
            """Stop the worker: it, or whoever gets its partitions, goes on from the last commit.

            The failed message is never marked finished, so no commit passes it.
            """
            if app.crash_reason is not None or _stopping:
                return
            log.error(
                "%s: %s; stopping to start again from the last commit", self.stage.name, failure
            )
            _stopping.add(asyncio.ensure_future(app.crash(failure)))

        scope = eos.event_scope(cast(faust.App, app))
        await self.consume(stream.events(), cast(Ledger, app.consumer), crash, scope)


async def in_thread(function: Callable[[T], R], argument: T) -> R:
    """`function(argument)` in a thread of its own while the event loop goes on.

    A daemon thread rather than an executor's: a worker told to stop does not wait for a
    step still running, whose result no one will read (its input is not committed).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[R] = loop.create_future()

    def run() -> None:
        try:
            outcome: tuple[R | None, BaseException | None] = (function(argument), None)
        except BaseException as error:  # noqa: BLE001 - raised again in the awaiting agent
            outcome = (None, error)
        with suppress(RuntimeError):  # the loop closed: the worker has stopped
            loop.call_soon_threadsafe(_settle, done, *outcome)

    threading.Thread(target=run, name="streams-step", daemon=True).start()
    return await done


def _settle(done: asyncio.Future[R], result: R | None, error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(cast(R, result))


def _on_delivery(
    ledger: Ledger,
    raw: Message,
    crash: Callable[[BaseException], None],
    sent: asyncio.Future[Any],
    *,
    finish: bool,
) -> None:
    """A record the broker did not take stops the worker; one it took may finish its message.

    Under exactly_once a failed send means the transaction is lost (a fenced or timed-out
    producer): going on would only pile work onto it.
    """
    if sent.cancelled():
        crash(DeliveryFailed("a send was cancelled"))
    elif (error := sent.exception()) is not None:
        crash(DeliveryFailed(f"Kafka did not acknowledge a record: {error!r}"))
    elif finish:
        ledger.finished(raw)
