"""The `validate` stage: turn raw bytes into an article, or say exactly why not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams import __version__
from streams.metrics import Metrics
from streams.records import Envelope, RawMessage
from streams.stages.validate.contract import check_timestamp, parse_article

if TYPE_CHECKING:
    import faust

    from streams.settings import Settings

NAME = "validate"


class Validation:
    """The first stage: the one that reads the producers' messages as they are."""

    name = NAME
    blocking = False

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    def step(self, message: RawMessage) -> Envelope:
        """A checked article in an envelope, its `language` field kept apart as a hint."""
        fields = parse_article(message.key, message.value, self.max_body_bytes)
        check_timestamp(message.source.timestamp)
        hint = fields.pop("language", None)
        return Envelope(
            fields=fields,
            key=message.key,
            source=message.source,
            version=__version__,
            hint=hint if isinstance(hint, str) else None,
        )

    def observe(self, metrics: Metrics, envelope: Envelope) -> None:
        """Nothing to count beyond messages and time."""

    def keep(self) -> None:
        """No state."""


def build(settings: Settings, app: faust.App) -> Validation:
    return Validation(settings.max_body_bytes)
