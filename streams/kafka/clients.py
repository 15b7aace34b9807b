"""Kafka clients built from settings: the one place security options are turned into
client options, for aiokafka's clients and for faust's."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

from streams.settings import Settings

if TYPE_CHECKING:
    import faust


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A TLS context when the protocol asks for one, from the configured files."""
    if not settings.security_protocol.endswith("SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.ssl_cafile,
        certfile=settings.ssl_certfile,
        keyfile=settings.ssl_keyfile,
        password=settings.ssl_password.reveal() if settings.ssl_password else None,
    )
    return context


def _password(settings: Settings) -> str | None:
    return settings.sasl_password.reveal() if settings.sasl_password else None


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection and security options shared by every aiokafka client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.security_protocol,
        "ssl_context": ssl_context(settings),
    }
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = _password(settings)
    return options


def faust_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The same security options in faust's form, for the worker's own clients."""
    import faust  # only workers need faust; commands that only read stay quick to start

    context = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=_password(settings),
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def producer(settings: Settings) -> AIOKafkaProducer:
    """An idempotent producer that waits for every replica and accepts 8 MiB messages."""
    return AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        enable_idempotence=True,
        max_request_size=settings.max_message_bytes,
        linger_ms=5,
    )


def reader(settings: Settings, *topics: str) -> AIOKafkaConsumer:
    """A consumer outside any group that reads committed records from the start."""
    return AIOKafkaConsumer(
        *topics,
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        fetch_max_bytes=settings.max_message_bytes * 2,
        max_partition_fetch_bytes=settings.max_message_bytes,
    )


def admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=15000)
