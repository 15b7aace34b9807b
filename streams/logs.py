"""Logging that never shows a secret, and a Kafka client's last complaint kept for the user."""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import Any

from streams.settings import Settings

REDACTED = "**********"


def secrets_of(settings: Settings) -> set[str]:
    """Every configured secret value."""
    values = [settings.sasl_password, settings.ssl_password, settings.broker_sasl_users]
    return {str(value) for value in values if value} | set(settings.sasl_users.values())


def spellings(secret: str) -> set[str]:
    """Every way a log line may spell the secret, not only as it is.

    aiokafka logs a SASL PLAIN request at DEBUG as a bytes repr, an exception message may
    hold a repr or JSON, and each escapes a quote, a backslash or a non-ASCII character its
    own way. repr picks its quote for the whole text around the secret, so `'` may appear
    escaped or not.
    """
    quoted = secret + '"'  # a " makes repr quote with ', so every ' in the secret is escaped
    escaped = {repr(quoted)[1:-2], ascii(quoted)[1:-2], repr(quoted.encode())[2:-2]}
    return (
        {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
        | escaped
        | {form.replace("\\'", "'") for form in escaped}
    )


def redact(secrets: Iterable[str]) -> None:
    """Scrub every spelling of the secrets from every log record, whoever logs it, and from
    a traceback nobody caught.

    The record is scrubbed as it is made, before any handler: faust replaces the handlers
    when its worker starts. Its traceback is formatted then too, because a handler would
    format it only later, from the exception itself.
    """
    forms = {form for secret in secrets if secret for form in spellings(secret)}
    if not forms:
        return
    # Longest first, so a spelling that contains another is replaced whole.
    pattern = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))))
    make_record = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        clean = pattern.sub(REDACTED, message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = pattern.sub(REDACTED, formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = pattern.sub(REDACTED, record.stack_info)
        return record

    def uncaught(*exc_info: Any) -> None:
        sys.stderr.write(pattern.sub(REDACTED, "".join(traceback.format_exception(*exc_info))))

    logging.setLogRecordFactory(scrubbed)
    sys.excepthook = uncaught


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
