"""The coordinator lookup of a transactional producer, without a broker: only the retry
rule is under test; tests/integration/test_faults.py restarts a real broker."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.client import CoordinationType
from aiokafka.errors import KafkaConnectionError, KafkaError, TransactionalIdAuthorizationFailed

from streams.kafka.eos.sender import PatientProducer, PatientSender


class _Client:
    """Answers FindCoordinator with the given errors first, then with node 1."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.lookups = 0

    async def coordinator_lookup(self, coordinator_type: Any, coordinator_key: Any) -> int:
        self.lookups += 1
        if self.errors:
            raise self.errors.pop(0)
        return 1

    async def ready(self, node_id: int, group: Any = None) -> bool:
        return True

    async def force_metadata_update(self) -> bool:
        return True


def _sender(client: _Client) -> PatientSender:
    return PatientSender(
        client,
        acks=-1,
        txn_manager=SimpleNamespace(transactional_id="app-articles.raw-0"),
        message_accumulator=None,
        retry_backoff_ms=1,
        request_timeout_ms=1000,
    )


async def test_a_connection_closed_during_a_coordinator_lookup_is_retried() -> None:
    client = _Client(KafkaConnectionError(), KafkaConnectionError())
    node = await _sender(client)._find_coordinator(CoordinationType.TRANSACTION, "app")
    assert (node, client.lookups) == (1, 3)


async def test_a_lookup_that_cannot_succeed_still_fails() -> None:
    client = _Client(TransactionalIdAuthorizationFailed())
    with pytest.raises(KafkaError):
        await _sender(client)._find_coordinator(CoordinationType.TRANSACTION, "app")
    assert client.lookups == 1


async def test_the_producer_faust_builds_uses_the_patient_sender() -> None:
    producer = PatientProducer(bootstrap_servers="127.0.0.1:1", transactional_id="app")
    assert type(producer._sender) is PatientSender
    await producer.stop()
