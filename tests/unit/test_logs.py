"""No secret reaches a log line, in any spelling; faust's routine backpressure lines are kept
out of an operator's log, nothing else is."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from streams.logs import REDACTED, demote_flow_control, redact

SECRET = "pa'ss\"w\\ö"
"""A quote of each kind, a backslash and a non-ASCII letter: each is escaped somewhere."""
APOSTROPHE = "it's\\ö"
"""No double quote, so repr quotes it with " and leaves its ' alone."""

log = logging.getLogger("tests.unit.test_logs")


@pytest.fixture
def redacted() -> Iterator[None]:
    """Redaction on for one test; the factory and hook it replaces come back after."""
    factory, hook = logging.getLogRecordFactory(), sys.excepthook
    redact([SECRET, APOSTROPHE])
    yield
    logging.setLogRecordFactory(factory)
    sys.excepthook = hook


@pytest.mark.usefixtures("redacted")
@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        pytest.param(f"password={SECRET}", f"password={REDACTED}", id="as is"),
        pytest.param(repr(SECRET), f"'{REDACTED}'", id="str repr"),
        pytest.param(ascii(SECRET), f"'{REDACTED}'", id="ascii"),
        pytest.param(
            repr(b"\x00alice\x00" + SECRET.encode()),
            f"b'\\x00alice\\x00{REDACTED}'",
            id="bytes repr (SASL PLAIN)",
        ),
        pytest.param(repr(APOSTROPHE), f'"{REDACTED}"', id="str repr, unescaped '"),
        pytest.param(repr(APOSTROPHE.encode()), f'b"{REDACTED}"', id="bytes repr, unescaped '"),
        pytest.param(json.dumps({"password": SECRET}), f'{{"password": "{REDACTED}"}}', id="JSON"),
        pytest.param(
            json.dumps([SECRET], ensure_ascii=False), f'["{REDACTED}"]', id="JSON, not ASCII"
        ),
    ],
)
def test_every_spelling_of_a_secret_is_redacted(
    caplog: pytest.LogCaptureFixture, logged: str, shown: str
) -> None:
    with caplog.at_level(logging.INFO):
        log.warning("sent %s", logged)
    assert caplog.messages == [f"sent {shown}"]


@pytest.mark.usefixtures("redacted")
def test_a_traceback_whose_exception_holds_the_secret_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        try:
            raise ValueError(f"wrong password {SECRET!r} for {SECRET}")
        except ValueError:
            log.exception("login failed")
    assert f"ValueError: wrong password '{REDACTED}' for {REDACTED}" in caplog.text
    assert 'ss"w' not in caplog.text


@pytest.mark.usefixtures("redacted")
def test_a_traceback_nobody_caught_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise RuntimeError(SECRET)
    except RuntimeError as error:
        sys.excepthook(RuntimeError, error, error.__traceback__)
    assert capsys.readouterr().err.endswith(f"RuntimeError: {REDACTED}\n")


@pytest.mark.usefixtures("redacted")
def test_text_without_a_secret_is_left_as_it_was(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        log.warning("user %s sent %r", "alice", b"\x00pa'ss\\w")
    assert caplog.messages == ['user alice sent b"\\x00pa\'ss\\\\w"']
    assert caplog.records[0].args == ("alice", b"\x00pa'ss\\w")


def test_flow_control_lines_drop_below_info_and_other_warnings_stay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    demote_flow_control()
    producer_log = logging.getLogger("faust.transport.producer")
    with caplog.at_level(logging.INFO):
        producer_log.warning("producer buffer full size %d", 101)
        producer_log.info("producer flush took %s", 0.01)
        producer_log.warning("send failed: broker unreachable")
    shown = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert shown == [("WARNING", "send failed: broker unreachable")]
