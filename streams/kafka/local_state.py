"""Local table state is kept across restarts only when the last run stopped cleanly.

faust writes a table change to RocksDB at once, but to its changelog through a buffer
and, under exactly_once, in a transaction that a crash aborts. After a crash the disk can
hold changes the changelog never got: faust then refuses to start (ConsistencyError), or
worse, serves them as state while the changelog, which any other worker recovers from,
lacks them. Kafka Streams has the same rule under exactly-once: state a task did not close
cleanly is wiped and restored from its changelog, which is the truth.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = "stopped-cleanly"
"""Written next to the tables after a clean stop, removed as soon as a worker starts."""


def open_tables(tabledir: Path) -> bool:
    """Discard the tables under `tabledir` unless the last run left them clean.

    Returns True when state was discarded. The marker goes either way: from now on the
    tables are in use, and only a clean stop of this run vouches for them again.
    """
    marker = tabledir / MARKER
    stores = sorted(tabledir.glob("*.db")) if tabledir.is_dir() else []
    discard = bool(stores) and not marker.exists()
    if discard:
        log.warning(
            "Local table state in %s may be ahead of its changelog (the last run did not "
            "stop cleanly): rebuilding it from the changelog",
            tabledir,
        )
        for store in stores:
            shutil.rmtree(store)
    marker.unlink(missing_ok=True)
    return discard


def close_tables(tabledir: Path) -> None:
    """Vouch for the tables: every change in them reached the changelog, committed."""
    if not tabledir.is_dir():
        return
    temporary = tabledir / f".{MARKER}"
    temporary.write_text("faust stopped without a crash and committed every transaction\n")
    temporary.replace(tabledir / MARKER)
