"""The agent loop's own rules, with the stage and the topics stood in for.

Kafka's behaviour is tested against Kafka (tests/integration); these pin down what the
loop decides: which failures become dead letters, which stop the worker, when a message
counts as finished, and what is counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError

from streams.errors import DeliveryFailed, MissingBody
from streams.kafka.agent import Route, StageAgent
from streams.metrics import Metrics, create_metrics
from streams.records import Envelope
from streams.stages.validate import Validation


@dataclass
class Message:
    """The parts of a faust message the agent reads."""

    offset: int
    value: bytes
    key: bytes | None = b"key"
    topic: str = "articles.raw"
    partition: int = 0
    timestamp: float = 1_700_000_000.0
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass
class Event:
    message: Message


@dataclass
class Topic:
    """Records what is sent; `refuse` makes a send fail the way the producer does."""

    name: str
    refuse: BaseException | None = None
    refuse_over: int | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    futures: list[asyncio.Future[None]] = field(default_factory=list)
    resolve: bool = True

    def get_topic_name(self) -> str:
        return self.name

    async def send(
        self, *, key: bytes | None, value: bytes, timestamp: float, headers: Any
    ) -> Awaitable[Any]:
        if self.refuse is not None:
            raise self.refuse
        if self.refuse_over is not None and len(value) > self.refuse_over:
            raise ProducerSendError("too large") from MessageSizeTooLargeError()
        self.sent.append({"key": key, "value": value, "headers": headers})
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.resolve:
            future.set_result(None)
        self.futures.append(future)
        return future


@dataclass
class Ledger:
    taken: set[int] = field(default_factory=set)
    done: list[int] = field(default_factory=list)

    def first_time(self, message: Any) -> bool:
        if message.offset in self.taken:
            return False
        self.taken.add(message.offset)
        return True

    def finished(self, message: Any) -> None:
        self.done.append(message.offset)


class Counting(Validation):
    """The validate stage, counting what the agent asks of it."""

    def __init__(self) -> None:
        super().__init__(max_body_bytes=1000)
        self.kept = 0
        self.observed = 0

    def observe(self, metrics: Metrics, envelope: Envelope) -> None:
        self.observed += 1

    def keep(self) -> None:
        self.kept += 1


async def events(*messages: Message) -> AsyncIterator[Event]:
    for message in messages:
        yield Event(message)


def article(body: str = "Some text.") -> bytes:
    return orjson.dumps({"id": "a", "body": body})


def agent(
    target: Topic, dlq: Topic, *, transactional: bool = True, max_bytes: int = 1 << 20
) -> tuple[StageAgent, Counting, Metrics]:
    stage, metrics = Counting(), create_metrics()
    route = Route(
        target=target,
        dlq=dlq,
        final=False,
        first=True,
        max_bytes=max_bytes,
        transactional=transactional,
    )
    return StageAgent(stage, route, metrics), stage, metrics


async def run(stage_agent: StageAgent, *messages: Message) -> tuple[Ledger, list[BaseException]]:
    ledger, crashes = Ledger(), []
    await stage_agent.consume(events(*messages), ledger, crashes.append)
    await asyncio.sleep(0)
    return ledger, crashes


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_a_step_that_fails_becomes_a_dead_letter_and_the_message_is_finished() -> None:
    target, dlq = Topic("next"), Topic("dlq")
    stage_agent, stage, metrics = agent(target, dlq)
    ledger, crashes = await run(
        stage_agent, Message(0, b'{"title": "no body"}'), Message(1, article())
    )
    assert [orjson.loads(s["value"])["error_code"] for s in dlq.sent] == [MissingBody.code]
    assert len(target.sent) == 1
    assert ledger.done == [0, 1] and crashes == []
    assert (stage.kept, stage.observed) == (1, 1)
    counted = {"stage": "validate", "code": "missing_body"}
    assert sample(metrics, "streams_dead_letters_total", **counted) == 1
    assert sample(metrics, "streams_messages_total", stage="validate", outcome="ok") == 1
    assert sample(metrics, "streams_messages_total", stage="validate", outcome="dead_letter") == 1


async def test_an_output_over_the_size_limit_is_too_large_and_keeps_no_state() -> None:
    target, dlq = Topic("next", refuse_over=10), Topic("dlq")
    stage_agent, stage, _ = agent(target, dlq)
    ledger, crashes = await run(stage_agent, Message(0, article("x" * 50)))
    [letter] = [orjson.loads(s["value"]) for s in dlq.sent]
    assert letter["error_code"] == "too_large"
    assert stage.kept == 0 and ledger.done == [0] and crashes == []


async def test_a_letter_that_cannot_be_sent_goes_as_a_minimal_one() -> None:
    target, dlq = Topic("next"), Topic("dlq", refuse_over=400)
    stage_agent, _, _ = agent(target, dlq)
    ledger, _ = await run(stage_agent, Message(0, b"{" + b"x" * 1000))
    [letter] = [orjson.loads(s["value"]) for s in dlq.sent]
    assert letter["error_code"] == "invalid_json"
    assert letter["payload"] is None and letter["payload_truncated"] is True
    assert dlq.sent[0]["key"] is None and ledger.done == [0]


@pytest.mark.parametrize("refusal", [KafkaTimeoutError(), ProducerSendError("fenced")])
async def test_a_send_kafka_refuses_stops_the_worker_and_finishes_nothing(
    refusal: BaseException,
) -> None:
    target, dlq = Topic("next", refuse=refusal), Topic("dlq")
    stage_agent, _, metrics = agent(target, dlq)
    ledger, crashes = await run(stage_agent, Message(0, article()), Message(1, article()))
    assert [type(crash) for crash in crashes] == [DeliveryFailed]
    assert ledger.done == [] and dlq.sent == []
    assert sample(metrics, "streams_dead_letters_total", stage="validate", code="stage_error") == 0


async def test_at_least_once_finishes_a_message_only_once_the_broker_has_its_record() -> None:
    target, dlq = Topic("next", resolve=False), Topic("dlq")
    stage_agent, _, _ = agent(target, dlq, transactional=False)
    ledger, crashes = await run(stage_agent, Message(0, article()), Message(1, article()))
    assert ledger.done == []
    target.futures[1].set_result(None)
    target.futures[0].set_exception(KafkaTimeoutError())
    await asyncio.sleep(0)
    assert ledger.done == [1]
    assert [type(crash) for crash in crashes] == [DeliveryFailed]


async def test_a_message_handed_over_twice_is_processed_once() -> None:
    target, dlq = Topic("next"), Topic("dlq")
    stage_agent, _, _ = agent(target, dlq)
    ledger, _ = await run(stage_agent, Message(0, article()), Message(0, article()))
    assert len(target.sent) == 1 and ledger.done == [0]


async def test_headers_and_keys_travel_with_the_record() -> None:
    target, dlq = Topic("next"), Topic("dlq")
    stage_agent, _, _ = agent(target, dlq)
    headers = [("traceparent", b"00-abc-01")]
    await run(
        stage_agent, Message(0, article(), headers=headers), Message(1, b"[]", headers=headers)
    )
    assert target.sent[0]["headers"] == headers and target.sent[0]["key"] == b"a"
    assert dlq.sent[0]["headers"] == headers and dlq.sent[0]["key"] == b"key"


class Holding(Counting):
    """A stage whose step holds the CPU's thread for a while, as tagging a megabyte does."""

    blocking = True

    def step(self, message: Any) -> Envelope:
        time.sleep(0.3)
        return super().step(message)


async def test_a_blocking_step_runs_while_the_event_loop_goes_on() -> None:
    target, dlq = Topic("next"), Topic("dlq")
    stage, metrics = Holding(), create_metrics()
    stage_agent = StageAgent(stage, agent(target, dlq)[0].route, metrics)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())
    ledger, crashes = await run(
        stage_agent, Message(0, article()), Message(1, b'{"title": "no body"}')
    )
    ticking.cancel()
    assert ticks >= 20, "the loop stood still while the steps ran"
    assert len(target.sent) == 1 and len(dlq.sent) == 1
    assert ledger.done == [0, 1] and crashes == []
