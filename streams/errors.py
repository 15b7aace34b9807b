"""The exception tree; each error knows the dead-letter code it becomes.

StreamsError                 anything this package raises on purpose
├── ConfigError              a setting is wrong: one line at the command line, exit 2
├── BrokerError              the local broker cannot be fetched, started or reached
├── DeliveryFailed           Kafka did not take a send: retriable, never a dead letter
└── RejectedMessage          a message that cannot be processed: becomes a dead letter
    ├── BadEncoding          bad_encoding
    ├── InvalidJson          invalid_json
    ├── NotAnObject          not_an_object
    ├── MissingBody          missing_body
    ├── InvalidField         invalid_field
    └── TooLarge             too_large
"""

from __future__ import annotations

from typing import ClassVar


class StreamsError(Exception):
    """Base of every error this package raises on purpose."""

    retriable: ClassVar[bool] = False
    """True when trying again from the last commit can succeed: the message is not at fault."""


class ConfigError(StreamsError):
    """A setting or an argument is wrong; the user can fix it and retry."""


class BrokerError(StreamsError):
    """The local broker cannot be fetched, started, stopped or reached."""


class DeliveryFailed(StreamsError):
    """A send the broker did not take (unreachable, fenced, timed out).

    The article is not at fault, so it must not become a dead letter: the worker stops
    and it, or the worker that takes its partitions, starts again from the last commit.
    """

    retriable = True


class RejectedMessage(StreamsError):
    """A message that no retry can fix; its `code` is the dead letter's error_code."""

    code: ClassVar[str] = "stage_error"


class BadEncoding(RejectedMessage):
    code = "bad_encoding"


class InvalidJson(RejectedMessage):
    code = "invalid_json"


class NotAnObject(RejectedMessage):
    code = "not_an_object"


class MissingBody(RejectedMessage):
    code = "missing_body"


class InvalidField(RejectedMessage):
    code = "invalid_field"


class TooLarge(RejectedMessage):
    code = "too_large"
