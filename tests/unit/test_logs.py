"""faust's routine backpressure lines are kept out of an operator's log, nothing else is."""

from __future__ import annotations

import logging

import pytest

from streams.logs import demote_flow_control


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
