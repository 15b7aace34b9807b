"""Event time for forgetting dedup state, robust to a stray timestamp."""

from __future__ import annotations

import bisect
from collections import deque

EXPIRY_WINDOW = 255
"""Articles whose median timestamp drives expiry."""


class ExpiryClock:
    """Event time for forgetting: the median Kafka timestamp of the last articles judged.

    The largest timestamp seen would let one message stamped years ahead expire all state
    at once; a median moves only when most recent articles do. It only decides when state
    is deleted: a lookup ignores expired entries by the article's own timestamp anyway.
    """

    def __init__(self, window: int = EXPIRY_WINDOW) -> None:
        self._recent: deque[float] = deque(maxlen=window)
        self._sorted: list[float] = []

    def observe(self, timestamp: float) -> float:
        """Take one article's timestamp; return the clock's new reading."""
        if len(self._recent) == self._recent.maxlen:
            del self._sorted[bisect.bisect_left(self._sorted, self._recent[0])]
        self._recent.append(timestamp)
        bisect.insort(self._sorted, timestamp)
        return self._sorted[len(self._sorted) // 2]
