"""The faust and aiokafka internals streams/kafka/eos relies on are still there, unchanged.

A release that renames a private attribute or changes an overridden method's signature
would break the overrides quietly; this fails first, naming the symbol.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from streams.kafka import eos
from streams.kafka.app import create_app
from streams.kafka.eos.consumer import LedgerConsumer, StableEndsThread
from streams.kafka.eos.sender import PatientSender
from streams.kafka.eos.transactions import (
    BufferCountingProducer,
    SendingBuffer,
    SourcePartitionTransactions,
)
from streams.metrics import create_metrics
from streams.settings import load_settings


def owner(path: str) -> type[Any]:
    module, name = path.rsplit(".", 1)
    found: type[Any] = getattr(importlib.import_module(module), name)
    return found


@pytest.fixture(scope="module")
def instances() -> dict[str, object]:
    """One of each class whose instance attributes are relied on, built but not started."""
    app = create_app(load_settings({}), create_metrics(), ["validate"])
    return {"faust.transport.consumer.Consumer": app.consumer}


@pytest.mark.parametrize(("path", "name"), eos.RELIED_ON, ids=lambda x: str(x))
async def test_each_private_name_the_overrides_use_still_exists(
    path: str, name: str, instances: dict[str, object]
) -> None:
    cls = owner(path)
    if hasattr(cls, name):
        return
    if cls is AIOKafkaProducer:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
        found = hasattr(producer, name)
        await producer.stop()
    else:
        found = hasattr(instances.get(path), name)
    assert found, f"{path}.{name} is gone: streams/kafka/eos relies on it"


OVERRIDES = [
    LedgerConsumer,
    StableEndsThread,
    SourcePartitionTransactions,
    SendingBuffer,
    BufferCountingProducer,
    PatientSender,
]


@pytest.mark.parametrize("ours", OVERRIDES, ids=lambda cls: cls.__name__)
def test_each_overridden_method_keeps_the_signature_faust_calls_it_with(ours: type) -> None:
    for name, method in vars(ours).items():
        if not callable(method) or name in {"__init__", "__post_init__"}:
            continue
        theirs = next(
            (getattr(base, name) for base in ours.__mro__[1:] if name in vars(base)), None
        )
        if theirs is None:
            continue
        assert list(inspect.signature(method).parameters) == list(
            inspect.signature(theirs).parameters
        ), f"{ours.__name__}.{name} no longer matches {theirs.__qualname__}"
