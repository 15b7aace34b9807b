"""A transactional producer whose coordinator lookup survives a broker restart.

aiokafka 0.14.0's Sender retries a FindCoordinator that fails with
CoordinatorNotAvailable, NodeNotReady or a timeout, but a connection the broker closes
mid-request (KafkaConnectionError) it re-raises as a plain KafkaError. That ends the
sender task ("Unexpected error during batch delivery"), fails the transaction for
good, and faust crashes the worker (fault 8 in streams/kafka/eos/__init__.py, seen
when a broker restart landed inside a commit). Every retriable cause is retried here
instead, as the Java client does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.sender import Sender


class PatientSender(Sender):  # type: ignore[misc]
    """aiokafka's Sender, retrying a coordinator lookup for as long as its cause is retriable."""

    async def _find_coordinator(self, coordinator_type: Any, coordinator_key: Any) -> Any:
        while True:
            try:
                return await super()._find_coordinator(coordinator_type, coordinator_key)
            except KafkaError as err:
                if not getattr(err.__cause__, "retriable", False):
                    raise
            await self.client.force_metadata_update()
            await asyncio.sleep(self._retry_backoff)


class PatientProducer(AIOKafkaProducer):  # type: ignore[misc]
    """aiokafka's producer with a PatientSender.

    aiokafka builds its Sender inside __init__ from names local to it, so the instance
    is re-classed rather than rebuilt; PatientSender adds behaviour and no state.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sender.__class__ = PatientSender
