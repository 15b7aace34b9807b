"""The enrichment stages in flow order: the one list the pipeline, the settings, the command
line, the topics and the status view all derive from.

Each stage is a package, `streams.stages.<name>`, whose `build(settings, app)` returns the
stage with its models loaded. Nothing here imports a stage package, so a command that only
needs the names and topics (`streams status`) loads no model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from streams.errors import ConfigError
from streams.records import Block, Envelope, RawMessage

if TYPE_CHECKING:
    import faust

    from streams.metrics import Metrics
    from streams.settings import Settings


@dataclass(frozen=True, slots=True)
class StageInfo:
    """One stage as the rest of the package knows it."""

    name: str
    """The stage's name: `--stages` takes it, metrics and dead letters carry it."""
    partitions: int | None = None
    """A partition count the stage's input topic must have; None means STREAMS_PARTITIONS."""


STAGES = (
    StageInfo("validate"),
    StageInfo("language"),
    StageInfo("entities"),
    # Every article is compared with every retained one, and faust tables are partitioned
    # like the stream that writes them: the dedup stage's input has one partition.
    StageInfo("dedup", partitions=1),
)
NAMES = tuple(stage.name for stage in STAGES)


def parse_stages(value: str) -> tuple[str, ...]:
    """`validate,language` -> the named stages, in flow order; unknown names are an error."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    unknown = sorted(names - set(NAMES))
    if unknown or not names:
        raise ConfigError(
            f"unknown stage {', '.join(unknown) or '(none)'}; choose from {','.join(NAMES)}"
        )
    return tuple(name for name in NAMES if name in names)


class Stage(Protocol):
    """A built stage, as its agent uses it: the agent reads, calls, sends and counts."""

    name: str
    blocking: bool
    """Its step may hold the CPU for seconds on one large article (entity tagging of a
    megabyte of text): the agent runs it in a thread, so the worker's event loop goes on
    committing, fetching and answering the group meanwhile."""

    def step(self, message: RawMessage) -> Envelope:
        """Pure and synchronous: the message in, the article with this stage's block out.

        Raises a RejectedMessage for a message it cannot process (or anything else: the
        agent turns every exception into a dead letter).
        """
        ...

    def observe(self, metrics: Metrics, envelope: Envelope) -> None:
        """Count what the step found, once its output is sent."""

    def keep(self) -> None:
        """Make the state changes of the last step, once its output is sent.

        A step only decides; a stage with state changes it here, so that an article that
        ends as a dead letter (its output too large to send, say) leaves nothing behind.
        """


def enrich(message: RawMessage, process: Callable[[Envelope], Block]) -> Envelope:
    """The step of every stage after the first: one block added to the arriving envelope."""
    envelope = Envelope.from_json(message.value or b"")
    return envelope.merged(process(envelope))


class _StagePackage(Protocol):
    def build(self, settings: Settings, app: faust.App) -> Stage: ...


def build(name: str, settings: Settings, app: faust.App) -> Stage:
    """The named stage, imported only now, with its models loaded."""
    package: _StagePackage = importlib.import_module(f"streams.stages.{name}")
    return package.build(settings, app)
