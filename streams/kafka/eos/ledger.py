"""What the agents did with one partition since its last commit, and how far that reaches.

A commit may only pass offsets whose articles are done. Offsets that never reached an
agent are holes: transaction markers and aborted records, which no read_committed
consumer receives, or a message that went missing on its way; until it is known which,
the ledger neither commits past a hole nor over one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Ledger:
    """One partition while it stays with the worker; `floor` is its committed offset, or
    where the log starts when nothing was committed; None until that is known."""

    floor: int | None
    taken: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)
    empty: dict[int, int] = field(default_factory=dict)
    """Verified holes, first offset -> the offset after them."""

    def take(self, offset: int) -> bool:
        """True the first time an agent takes `offset`; False for a repeat."""
        if (self.floor is not None and offset < self.floor) or offset in self.taken:
            return False
        self.taken.add(offset)
        return True

    def finish(self, offset: int) -> None:
        self.finished.add(offset)

    def reach(self) -> int | None:
        """The offset after the run of finished offsets (and verified holes) from the floor.

        None while the floor is unknown: the first offset an agent finished is not where
        the partition starts, when records before it were fetched and dropped at a
        rebalance (seen: 72 articles of a partition committed, never processed).
        """
        if self.floor is None or not self.finished:
            return self.floor
        position = self.floor
        while True:
            if position in self.finished:
                position += 1
            elif position in self.empty:
                position = self.empty[position]
            else:
                return position

    def hole(self) -> tuple[int, int] | None:
        """The first unverified gap below a finished offset, as (first, after), if any."""
        position = self.reach()
        if position is None or position in self.taken:
            return None
        later = [offset for offset in self.finished if offset > position]
        if not later:
            return None
        return position, min(later)

    def settled(self) -> bool:
        """Everything taken is finished and lies within reach: a transaction may close here."""
        reach = self.reach()
        return self.taken == self.finished and (
            not self.finished or (reach is not None and max(self.finished) < reach)
        )

    def mark_empty(self, first: int, after: int) -> None:
        self.empty[first] = after

    def commit(self, offset: int) -> None:
        """Forget what lies below `offset`, now committed."""
        self.floor = offset
        self.taken = {o for o in self.taken if o >= offset}
        self.finished = {o for o in self.finished if o >= offset}
        self.empty = {first: after for first, after in self.empty.items() if after > offset}


def skipped(expected: int | None, fetched: list[int]) -> tuple[list[tuple[int, int]], int]:
    """The holes a read_committed fetch stepped over, and the offset it will fetch next.

    `expected` is where the fetch position stood (None when unknown, as after a seek to
    the committed offset); `fetched` the offsets of one fetch, in order. An offset below
    `expected` is a record fetched again, which moves nothing.
    """
    holes = []
    for offset in fetched:
        if expected is not None and offset > expected:
            holes.append((expected, offset))
        if expected is None or offset >= expected:
            expected = offset + 1
    if expected is None:
        raise ValueError("a fetch holds at least one record")
    return holes, expected
