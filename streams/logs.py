"""Logging that never shows a secret, and a Kafka client's last complaint kept for the user."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from streams.settings import Settings

REDACTED = "**********"


def secrets_of(settings: Settings) -> list[str]:
    """Every configured secret value, longest first so one never leaves part of another."""
    values = [settings.sasl_password, settings.ssl_password, settings.broker_sasl_users]
    found = {str(value) for value in values if value} | set(settings.sasl_users.values())
    return sorted(found, key=len, reverse=True)


def redact(secrets: Iterable[str]) -> None:
    """Scrub secrets from every log record, whoever logs it (aiokafka logs SASL bytes at DEBUG)."""
    hidden = [secret for secret in secrets if secret]
    if not hidden:
        return
    make_record = logging.getLogRecordFactory()

    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        if any(secret in message for secret in hidden):
            for secret in hidden:
                message = message.replace(secret, REDACTED)
            record.msg, record.args = message, ()
        return record

    logging.setLogRecordFactory(scrubbed)


class LastError(logging.Handler):
    """Keeps the last error a library logged, to explain a failure it reports vaguely.

    aiokafka turns a failed SASL authentication into "Unable to bootstrap"; the reason
    (SaslAuthenticationFailed) is only in its log.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.message = record.getMessage().splitlines()[0]


def demote_flow_control() -> None:
    """Log faust's table write backpressure at DEBUG.

    faust warns "producer buffer full" each time table changes outpace their changelog
    sends and it pauses the streams to let them drain. That is flow control working, and
    the dedup stage triggers it every few dozen articles at full speed: as warnings, the
    lines buried everything an operator needs to see.
    """

    def demote(record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(("producer buffer full", "producer flush took")):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True

    logging.getLogger("faust.transport.producer").addFilter(demote)
