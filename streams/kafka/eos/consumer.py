"""faust's Kafka consumer, committing only what the agents finished, each offset once.

faust commits what its streams acknowledged, and it hands a stream some messages twice
and, after a recovery, skips the odd one. Each partition keeps a Ledger while it stays
with the worker: an agent skips an offset it already took, and a commit reaches only as
far as the run of finished offsets from the last commit. Offsets a read_committed fetch
stepped over are transaction markers or aborted records; any other gap is read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer
from faust.types import TP, Message

from streams.kafka.clients import reader
from streams.kafka.eos.ledger import Ledger, skipped
from streams.kafka.offsets import first_committed_record
from streams.settings import Settings


class StableEndsThread(AIOKafkaConsumerThread):
    """faust's consumer thread, asking the broker where each changelog's committed data ends.

    Under exactly_once faust reads a changelog's end from the client's cache of the last
    fetch, empty on a fresh worker: it then found every changelog empty and skipped the
    recovery, so a failover to a worker with an empty disk lost the dedup state
    (test_layouts.py). A read_committed end_offsets request answers the last stable
    offset, which is what recovery needs.
    """

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        ends: Mapping[TP, int] = await self._ensure_consumer().end_offsets(partitions)
        return ends


class LedgerConsumer(Consumer):
    """faust's aiokafka consumer with a ledger per partition of what the agents did."""

    settings: ClassVar[Settings]
    """Set on a per-app subclass (`for_settings`): the gap probe connects like the worker."""

    @classmethod
    def for_settings(cls, settings: Settings) -> type[LedgerConsumer]:
        return type(cls.__name__, (cls,), {"settings": settings})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledgers: dict[TP, Ledger] = {}
        self._last_finished: dict[TP, int] = {}
        self._probes: dict[TP, asyncio.Future[None]] = {}
        self._probe_consumer: AIOKafkaConsumer | None = None
        self._probe_lock = asyncio.Lock()
        self._repeating: set[TP] = set()
        self._fetched_to: dict[TP, int] = {}
        """Per stage partition, the offset after the last record fetched, while known."""
        self._stage_topics = frozenset(self.settings.stage_topics.values())
        self._starts: dict[TP, int] = {}
        """Where each partition's log starts: the floor of a partition never committed."""
        self._learning: dict[TP, asyncio.Future[None]] = {}

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return StableEndsThread(self, loop=self.loop, beacon=self.beacon)

    def _ledger(self, tp: TP) -> Ledger:
        """The partition's ledger, trimmed to faust's record of the last commit.

        A partition never committed starts where its log starts, which the broker is asked;
        until it answers nothing of the partition is committed. (faust records a commit
        at offset 0 as none, so that case is asked too.)
        """
        key = TP(tp.topic, tp.partition)
        floor = self._committed_offset[tp]
        if floor is None:
            floor = self._starts.get(key)
            if floor is None:
                self._learn_start_soon(key)
        ledger = self._ledgers.get(key)
        if ledger is None:
            ledger = self._ledgers[key] = Ledger(floor=floor)
        elif floor is not None and (ledger.floor is None or floor > ledger.floor):
            ledger.commit(floor)
        return ledger

    def _learn_start_soon(self, tp: TP) -> None:
        if tp not in self._learning:
            self._learning[tp] = asyncio.ensure_future(self._learn_start(tp))

    async def _learn_start(self, tp: TP) -> None:
        try:
            partition = TopicPartition(tp.topic, tp.partition)
            async with self._probe_lock:
                consumer = await self._probe_reader()
                starts = await consumer.beginning_offsets([partition])
            self._starts[tp] = starts[partition]
        except KafkaError as error:
            self.log.warning("%s: cannot read where the log starts (%r); asking again", tp, error)
        finally:
            self._learning.pop(tp, None)

    def first_time(self, message: Message) -> bool:
        """True the first time an agent takes this offset while the partition is ours."""
        tp, offset = message.tp, message.offset
        if not self._ledger(tp).take(offset):
            if tp not in self._repeating:
                self._repeating.add(tp)
                self.log.info("Skipping repeats of %s (first at %d)", tp, offset)
            return False
        return True

    def finished(self, message: Message) -> None:
        """The agent is done with `message`: its outputs and dead letters are sent."""
        tp, offset = message.tp, message.offset
        self._ledger(tp).finish(offset)
        last = self._last_finished.get(tp)
        self._last_finished[tp] = offset
        if last is not None and offset != last + 1:
            # A gap behind this offset: have the broker say what is in it before the
            # next commit needs to know.
            self._probe_soon(tp)

    def settled(self, tps: Iterable[TP]) -> bool:
        """Every finished offset of `tps` is within reach: a transaction can close on them."""
        return all(self._ledger(tp).settled() for tp in tps)

    def committable(self, tps: Iterable[TP]) -> dict[TP, int]:
        """The reach of each partition's ledger, where it moved past the last commit.

        faust's acknowledgement lists are emptied too: nothing else trims them now that
        its own offset bookkeeping is out of the way.
        """
        offsets: dict[TP, int] = {}
        for tp in tps:
            self._acked[tp].clear()
            self._acked_index[tp].clear()
            self._gap.pop(tp, None)
            ledger = self._ledger(tp)
            if ledger.hole() is not None:
                self._probe_soon(tp)
            reach = ledger.reach()
            committed = self._committed_offset[tp]
            if reach is not None and (committed is None or reach > committed):
                # aiokafka's type: a transaction's offsets are validated against it.
                offsets[TopicPartition(tp.topic, tp.partition)] = reach
        return offsets

    async def _getmany(
        self,
        active_partitions: set[TP] | None,
        timeout: float,  # noqa: ASYNC109 - faust's signature
    ) -> Any:
        """Fetch, and note the offsets the client stepped over as holes with nothing in them.

        A read_committed fetch skips transaction markers and aborted records, so offsets
        missing between the records of one fetch, or since the last one, hold none an
        agent could take. Knowing that here spares a read of the broker for each marker,
        which on a busy partition arrive faster than such reads can answer.
        """
        records = await super()._getmany(active_partitions, timeout)
        for tp, batch in records.items():
            if tp.topic in self._stage_topics and batch:
                self._note_fetched(TP(tp.topic, tp.partition), [r.offset for r in batch])
        return records

    def _note_fetched(self, tp: TP, offsets: list[int]) -> None:
        ledger = self._ledger(tp)
        holes, self._fetched_to[tp] = skipped(self._fetched_to.get(tp), offsets)
        for first, after in holes:
            ledger.mark_empty(first, after)

    async def _seek(self, partition: TP, offset: int) -> None:
        self._fetched_to[TP(partition.topic, partition.partition)] = offset
        await super()._seek(partition, offset)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        for tp, offset in partitions.items():
            self._fetched_to[TP(tp.topic, tp.partition)] = offset
        await super().seek_wait(partitions)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        self._fetched_to.clear()
        return await super().seek_to_committed()

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        return self.committable(tps)

    def _probe_soon(self, tp: TP) -> None:
        if tp not in self._probes:
            self._probes[tp] = asyncio.ensure_future(self._probe(tp))

    async def _probe(self, tp: TP) -> None:
        """Step over a gap of markers, or seek back to a message that was skipped."""
        try:
            ledger = self._ledger(tp)
            hole = ledger.hole()
            if hole is None:
                return
            first, after = hole
            found = await self._first_record(TopicPartition(tp.topic, tp.partition), first, after)
            if found is None:
                ledger.mark_empty(first, after)
            elif self._ledgers.get(TP(tp.topic, tp.partition)) is ledger:
                self.log.warning(
                    "%s: offset %d never reached the agent; fetching again from %d",
                    tp,
                    found,
                    first,
                )
                await self.seek(tp, first)
        finally:
            self._probes.pop(tp, None)

    async def _first_record(self, tp: TopicPartition, first: int, after: int) -> int | None:
        """The offset of the first committed record in [first, after), if there is one."""
        async with self._probe_lock:
            return await first_committed_record(await self._probe_reader(), tp, first, after)

    async def _probe_reader(self) -> AIOKafkaConsumer:
        """The consumer that asks the broker about gaps and log starts (under the lock)."""
        if self._probe_consumer is None:
            self._probe_consumer = reader(self.settings)
            await self._probe_consumer.start()
        return self._probe_consumer

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        """Forget the partitions that moved away; keep the ledgers of those that stayed.

        A rebalance revokes every partition, but faust keeps the producer, and with it
        the open transaction, of a partition that comes straight back. Its ledger must
        stay too: the seek to the committed offset fetches again what that transaction
        already holds, and only the ledger knows to skip it.
        """
        kept = {TP(tp.topic, tp.partition) for tp in assigned}
        for tp in [tp for tp in self._fetched_to if tp not in kept]:
            del self._fetched_to[tp]
        for tp in [tp for tp in self._starts if tp not in kept]:
            del self._starts[tp]
        for tp in [tp for tp in self._ledgers if tp not in kept]:
            del self._ledgers[tp]
            self._last_finished.pop(tp, None)
            self._repeating.discard(tp)
        await super().on_partitions_assigned(assigned, generation_id)

    async def on_stop(self) -> None:
        await super().on_stop()
        if self._probe_consumer is not None:
            await self._probe_consumer.stop()
