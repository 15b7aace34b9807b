"""The ledger's arithmetic: repeats, the reach of a commit, and the gaps that hold it back."""

from __future__ import annotations

from streams.kafka.eos.ledger import Ledger, skipped


def done(ledger: Ledger, *offsets: int) -> None:
    for offset in offsets:
        assert ledger.take(offset)
        ledger.finish(offset)


def test_an_offset_is_taken_once_and_nothing_below_the_commit_is_taken() -> None:
    ledger = Ledger(floor=10)
    assert not ledger.take(9)
    assert ledger.take(10)
    assert not ledger.take(10)


def test_the_reach_stops_at_a_gap_until_the_gap_is_known_to_hold_no_record() -> None:
    ledger = Ledger(floor=10)
    done(ledger, 10, 11, 13, 14)
    assert ledger.reach() == 12
    assert ledger.hole() == (12, 13)
    assert not ledger.settled()
    ledger.mark_empty(12, 13)
    assert ledger.reach() == 15
    assert ledger.hole() is None
    assert ledger.settled()


def test_an_unfinished_offset_holds_the_reach_and_is_no_gap() -> None:
    ledger = Ledger(floor=0)
    done(ledger, 0, 1)
    assert ledger.take(2)
    done(ledger, 3)
    assert ledger.reach() == 2
    assert ledger.hole() is None
    assert not ledger.settled()
    ledger.finish(2)
    assert ledger.reach() == 4
    assert ledger.settled()


def test_a_message_fetched_again_after_a_gap_fills_it() -> None:
    ledger = Ledger(floor=5)
    done(ledger, 5, 7)
    assert ledger.hole() == (5 + 1, 7)
    done(ledger, 6)
    assert not ledger.take(7)
    assert ledger.reach() == 8


def test_nothing_is_committable_until_the_partition_start_is_known() -> None:
    ledger = Ledger(floor=None)
    done(ledger, 72, 73)
    assert ledger.reach() is None
    assert ledger.hole() is None
    assert not ledger.settled()
    ledger.commit(0)
    assert ledger.reach() == 0
    assert ledger.hole() == (0, 72)


def test_a_commit_forgets_what_lies_below_it() -> None:
    ledger = Ledger(floor=3)
    done(ledger, 3, 4)
    assert ledger.reach() == 5
    ledger.commit(5)
    assert (ledger.taken, ledger.finished, ledger.floor) == (set(), set(), 5)
    assert not ledger.take(4)
    assert ledger.reach() == 5


def test_a_fetch_marks_the_offsets_it_stepped_over_as_holes() -> None:
    assert skipped(10, [10, 11, 14, 15]) == ([(12, 14)], 16)
    assert skipped(10, [13]) == ([(10, 13)], 14)


def test_after_an_unknown_position_only_gaps_inside_the_fetch_count() -> None:
    assert skipped(None, [7, 9]) == ([(8, 9)], 10)


def test_a_record_fetched_again_moves_nothing() -> None:
    assert skipped(10, [9, 10]) == ([], 11)
