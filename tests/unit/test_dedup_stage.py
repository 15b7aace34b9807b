"""The dedup stage's own rules: nothing recorded before the record is sent, a robust clock."""

from __future__ import annotations

from streams.records import Envelope, Source
from streams.stages.dedup import Deduplication
from streams.stages.dedup.clock import ExpiryClock
from tests.unit.test_dedup_index import DAY, T0, article, make_index


def envelope(article_id: str, body: str, seconds: float) -> Envelope:
    return Envelope(
        fields={"id": article_id, "body": body},
        key=article_id.encode(),
        source=Source("articles.raw", 0, 0, round(seconds * 1000)),
        version="test",
    )


def test_a_verdict_whose_record_was_never_sent_leaves_no_state_behind() -> None:
    index, tables = make_index()
    stage = Deduplication(index, 0.5)
    first = stage.process(envelope("dead-lettered", article(1), T0))
    assert first.verdict.status == "unique"
    assert all(not table for table in tables.values())
    second = stage.process(envelope("sent", article(1), T0 + 1))
    stage.keep()
    assert second.verdict.status == "unique"
    third = stage.process(envelope("copy", article(1), T0 + 2))
    assert third.verdict.duplicate_of == "sent"


def test_one_article_stamped_years_ahead_does_not_move_the_expiry_clock() -> None:
    clock = ExpiryClock(window=5)
    readings = [clock.observe(T0 + n) for n in range(4)]
    assert clock.observe(T0 + 10 * 365 * DAY) == T0 + 2
    assert readings[-1] <= T0 + 3
    assert clock.observe(T0 + 5) == T0 + 3


def test_the_clock_follows_the_stream_once_most_articles_move_on() -> None:
    clock = ExpiryClock(window=5)
    for n in range(5):
        clock.observe(T0 + n)
    for n in range(3):
        reading = clock.observe(T0 + DAY + n)
    assert reading == T0 + DAY
