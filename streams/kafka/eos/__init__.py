"""Every override of faust's behaviour, in one place: what faust gets wrong, and the fixes.

faust-streaming (pinned in pyproject.toml to the release the fault tests passed on) does
not deliver its processing guarantees for a pipeline whose stages re-key, change
partition counts and run in separate workers. The fault tests found eight faults:

1. Transactions by destination (transactions.py): faust picks a send's transactional
   producer by the destination partition but commits the input offset through the source
   partition's, so an output and its input's offset land in different transactions. A
   send joins the transaction of the input partition it came from, as in Kafka Streams.
2. Transactional ids shared across stages (transactions.py): faust's id is app id, group
   number, partition, and group numbers repeat across topics, so workers running
   different stages fenced each other. Ids are app id, input topic, partition.
3. Commit is no barrier (transactions.py): faust picks the offsets, then flushes and
   commits while agents go on, so a transaction carried outputs past its offsets, or
   outputs without their table changes. A commit closes a gate its events wait at,
   waits until the events inside are done and their table changes sent, and commits.
4. Acknowledged is not processed (consumer.py, ledger.py): faust commits what its
   streams acknowledged, hands some messages over twice and skips the odd one after a
   recovery. A ledger per partition commits only the run of offsets agents finished.
5. A table change on its way when a transaction ends (transactions.py, SendingBuffer).
6. A fenced commit is dropped by the override of 3 unless handled: it crashes the worker.
7. Recovery that finds nothing to recover (consumer.py, StableEndsThread): under
   exactly_once faust takes a changelog's end from a client cache that a fresh worker
   has not filled yet, so a failover to an empty disk skipped the restore.
8. A broker restart inside a commit (sender.py): aiokafka's transactional sender gives
   up on a coordinator lookup whose connection closed, and faust crashes the worker.

Local table state that a crash left ahead of its changelog is handled apart, in
streams/kafka/local_state.py. docs/RELIABILITY.md tells each fault's history and
the tests that prove the fixes: tests/integration/test_faults.py, test_layouts.py,
test_gaps.py, and the unit tests of the ledger and the table buffer.
tests/unit/test_faust_contract.py fails, naming the symbol, when a faust or aiokafka
release changes a private name or signature listed in RELIED_ON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import faust

from streams.kafka.eos.consumer import LedgerConsumer
from streams.kafka.eos.transactions import BufferCountingProducer, SourcePartitionTransactions
from streams.settings import Settings

RELIED_ON: tuple[tuple[str, str], ...] = (
    # (module.class, attribute): private faust and aiokafka names the overrides use.
    ("faust.transport.consumer.Consumer", "_committed_offset"),
    ("faust.transport.consumer.Consumer", "_acked"),
    ("faust.transport.consumer.Consumer", "_acked_index"),
    ("faust.transport.consumer.Consumer", "_gap"),
    ("faust.transport.consumer.Consumer", "_filter_committable_offsets"),
    ("faust.transport.consumer.ThreadDelegateConsumer", "_getmany"),
    ("faust.transport.consumer.ThreadDelegateConsumer", "_seek"),
    ("faust.transport.drivers.aiokafka.Consumer", "_new_consumer_thread"),
    ("faust.transport.drivers.aiokafka.AIOKafkaConsumerThread", "_highwaters"),
    ("faust.transport.drivers.aiokafka.AIOKafkaConsumerThread", "_ensure_consumer"),
    ("faust.transport.consumer.TransactionManager", "_start_transactions"),
    ("faust.transport.consumer.TransactionManager", "_tps_to_transactional_ids"),
    ("faust.transport.producer.ProducerBuffer", "_send_pending"),
    ("faust.transport.drivers.aiokafka.Producer", "_transaction_producers"),
    ("aiokafka.producer.AIOKafkaProducer", "_txn_manager"),
    ("aiokafka.producer.AIOKafkaProducer", "_sender"),
    ("aiokafka.producer.sender.Sender", "_find_coordinator"),
    ("faust.transport.drivers.aiokafka.Producer", "_producer_type"),
)


def install(app: faust.App, settings: Settings) -> None:
    """Have faust build its consumer, producer and transaction manager from ours.

    Per app, not on faust's classes: the transport builds them from these attributes.
    """
    transport: Any = app.transport
    transport.Consumer = LedgerConsumer.for_settings(settings)
    transport.Producer = BufferCountingProducer
    transport.TransactionManager = SourcePartitionTransactions.for_app()


def own_tables(app: faust.App, topic: str, tables: Iterable[Any]) -> None:
    """Tables a stage reading `topic` writes: their changelogs join that stage's transactions."""
    manager: type[SourcePartitionTransactions] = app.transport.TransactionManager  # type: ignore[assignment]
    for table in tables:
        manager.table_sources[table.changelog_topic.get_topic_name()] = topic


def stopped_cleanly(app: faust.App) -> bool:
    """No crash, and under exactly_once no transaction left open with changes in it."""
    if app.crash_reason is not None:
        return False
    if not app.in_transaction:
        return True
    transactions: SourcePartitionTransactions = app.consumer.transactions  # type: ignore[assignment]
    return not transactions.left_open


def event_scope(app: faust.App) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """What an agent enters around its work on one event of a partition.

    Under exactly_once the event joins its transaction's count, and waits while that
    transaction commits; under at_least_once there is nothing to wait for.
    """
    if not app.in_transaction:
        return lambda tp: nullcontext()
    transactions: SourcePartitionTransactions = app.consumer.transactions  # type: ignore[assignment]
    return transactions.event
