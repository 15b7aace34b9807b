"""Exactly-once for pipelines whose stages re-key and change partition counts.

One transaction per task (input topic and partition), as in Kafka Streams: a send made
while an event is processed joins the transaction of that event's partition, under an
id unique to the task, and each transaction is committed at a moment when none of its
events is half done and no table change is waiting to be sent, with the offsets of that
moment. docs/RELIABILITY.md tells what faust did instead and which tests show it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar, cast

from aiokafka.errors import ProducerFenced
from faust.exceptions import ProducerSendError
from faust.streams import current_event
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import Producer
from faust.transport.producer import ProducerBuffer
from faust.types import TP, FutureMessage

from streams.kafka.eos.consumer import LedgerConsumer
from streams.kafka.eos.sender import PatientProducer

log = logging.getLogger(__name__)

TRANSACTION_TIMEOUT_MS = 300_000
"""How long the broker lets a transaction stay open before aborting it (aiokafka's default
is 60 s). An outage longer than that fences the worker's producers and it must restart;
a broker restart took 36 s on a loaded test machine. Whoever takes over a task aborts its
open transaction at once, so this delays nothing after a crash."""
QUIET_TIMEOUT = 30.0
"""Seconds a commit waits for the events it holds back to finish before skipping a turn."""


class SendingBuffer(ProducerBuffer):
    """faust's table-change buffer, counting a change as buffered until its send has returned.

    faust's own count ends when a change leaves the queue, but the send then awaits the
    producer lookup before it reaches the transaction: a commit that ended the transaction
    in that moment (as faust's does at a rebalance) crashed the buffer with IllegalOperation
    "Can't send messages while not in transaction".
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sending = 0

    async def _send_pending(self, fut: FutureMessage) -> None:
        self._sending += 1
        try:
            await super()._send_pending(fut)
        finally:
            self._sending -= 1

    @property
    def size(self) -> int:
        return super().size + self._sending


class BufferCountingProducer(Producer):
    """faust's aiokafka producer, with a buffer whose size a commit can wait on, and
    transactions that outlive a broker restart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        buffer = SendingBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        self.buffer = buffer

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "transaction_timeout_ms": TRANSACTION_TIMEOUT_MS}

    @property
    def _producer_type(self) -> type[PatientProducer]:
        return PatientProducer


class SourcePartitionTransactions(TransactionManager):
    """faust's TransactionManager, with sends bound to the transaction of their input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._busy: Counter[str] = Counter()
        """Events an agent is inside, per transactional id."""
        self._gates: defaultdict[str, asyncio.Event] = defaultdict(_opened)
        """Closed while a transaction is being committed: no event of it may start then."""
        self.left_open: set[str] = set()
        """Transactions the final commit could not end: their changes never committed."""

    @asynccontextmanager
    async def event(self, tp: TP) -> AsyncIterator[None]:
        """An agent's work on one event of `tp`: it waits while that transaction commits.

        faust commits while agents go on, so a transaction could close between an event's
        output and its table changes. The commit closes the gate, waits until the events
        inside it are done and their table changes sent, commits, and opens it again.
        """
        tid = self.transactional_id(tp)
        gate = self._gates[tid]
        while not gate.is_set():
            await gate.wait()
        self._busy[tid] += 1
        try:
            yield
        finally:
            self._busy[tid] -= 1

    table_sources: ClassVar[dict[str, str]]
    """Changelog topic -> the stage input topic whose task writes that table."""

    @classmethod
    def for_app(cls) -> type[SourcePartitionTransactions]:
        """A subclass for one app, so its table map is its own."""
        return type(cls.__name__, (cls,), {"table_sources": {}})

    def transactional_id(self, tp: TP) -> str:
        """One id per task: app id, input topic and partition, as Kafka Streams does.

        faust's own id (app id, partition group number, partition) repeats across topics
        with equal partition counts, so workers running different stages fenced each other.
        A table's changelog partition belongs to the task of the input partition it mirrors.
        """
        return f"{self.app.conf.id}-{self._task_topic(tp)}-{tp.partition}"

    def _task_topic(self, tp: TP) -> str:
        """The stage input topic of the task `tp` belongs to."""
        return self.table_sources.get(tp.topic, tp.topic)

    def _tps_to_transactional_ids(self, tps: set[TP]) -> set[str]:
        assignor = self.app.assignor
        return {self.transactional_id(tp) for tp in tps if not assignor.is_standby(tp)}

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Awaitable[Any]:
        event = current_event()
        if event is not None:
            task = event.message.tp
        elif partition is not None:
            # Table changelogs are flushed from a background buffer, outside any event, to
            # the partition of the input partition they mirror, whose task they belong to.
            task = TP(topic, partition)
        else:
            raise ProducerSendError(f"a send to {topic} outside any event names no partition")
        return await self.producer.send(
            topic,
            key,
            value,
            self.consumer.key_partition(topic, key, partition),
            timestamp,
            headers,
            transactional_id=self.transactional_id(task),
        )

    async def _start_transactions(self, tids: Iterable[str]) -> None:
        """Begin a transaction for each partition group assigned that has none open.

        At a revoke faust ends only the transactions it commits offsets for, then begins
        one for every group assigned: for a group whose transaction stayed open that fails
        with a warning, for each such group at every rebalance.
        """
        producers = cast(Producer, self.producer)._transaction_producers
        await super()._start_transactions(
            [
                tid
                for tid in tids
                if tid not in producers or not producers[tid]._txn_manager.is_in_transaction()
            ]
        )

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        """Commit each transaction with the offsets of a moment between events.

        `offsets` is the consumer's own dict of what it is about to record as committed;
        the offsets of events finished since it was made are added to it.
        """
        committed = cast(MutableMapping[TP, int], offsets)
        tasks = {self.transactional_id(tp): self._task_topic(tp) for tp in offsets}
        for tid in sorted(tasks):
            writes_tables = tasks[tid] in self.table_sources.values()
            gate = self._gates[tid]
            gate.clear()
            try:
                if not await self._commit_when_quiet(
                    tid, writes_tables, committed, start_new_transaction
                ):
                    return False
            finally:
                gate.set()
        return True

    async def _commit_when_quiet(
        self,
        tid: str,
        writes_tables: bool,
        committed: MutableMapping[TP, int],
        start_new_transaction: bool,
    ) -> bool:
        """Commit `tid` once its events are done; False when the worker must stop."""
        quiet = await self._wait_until_quiet(tid, writes_tables)
        settled = self._settle(tid, committed) if quiet else {}
        if not settled:
            if not start_new_transaction:
                self.left_open.add(tid)
            return True
        try:
            await self.producer.commit_transactions(
                {tid: settled},
                self.app.conf.id,
                start_new_transaction=start_new_transaction,
            )
        except ProducerFenced as fenced:
            # Another worker owns this task now (this one was presumed dead): what this
            # worker did since its last commit is void, so it must not go on from here.
            log.error("%s was fenced: another worker took over its partitions", tid)
            await self.app.crash(fenced)
            return False
        self.left_open.discard(tid)
        return True

    def _quiet(self, tid: str, writes_tables: bool) -> bool:
        """No event of `tid` is half done, and the table changes of its events are sent."""
        if self._busy[tid]:
            return False
        return not writes_tables or not self.app.producer.buffer.size

    async def _wait_until_quiet(self, tid: str, writes_tables: bool) -> bool:
        """Wait, with new events held at the gate, until `tid` is quiet; False if it never is.

        Only an event stuck in a send (the broker gone) keeps it busy for long: then this
        commit is skipped, never made with outputs whose table changes it might miss.
        """
        deadline = asyncio.get_running_loop().time() + QUIET_TIMEOUT
        while not self._quiet(tid, writes_tables):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("not committing %s: an event in it is still not done", tid)
                return False
            await asyncio.sleep(0.001)
        return True

    def _settle(self, tid: str, committed: MutableMapping[TP, int]) -> dict[TP, int]:
        """The offsets of `tid` now, or nothing while a gap in them is being checked.

        The transaction holds the outputs of every event finished so far, so it may only
        close with offsets that reach past all of them (see streams/consumer.py).
        """
        consumer = cast(LedgerConsumer, self.consumer)
        mine = [tp for tp in consumer.assignment() if self.transactional_id(tp) == tid]
        committed.update(consumer.committable(mine))
        settled = {
            tp: offset for tp, offset in committed.items() if self.transactional_id(tp) == tid
        }
        if not consumer.settled(mine):
            for tp in settled:
                del committed[tp]
            return {}
        return settled


def _opened() -> asyncio.Event:
    gate = asyncio.Event()
    gate.set()
    return gate
