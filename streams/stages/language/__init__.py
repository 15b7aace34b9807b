"""The `language` stage: which language an article is written in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.metrics import Metrics
from streams.records import Envelope, LanguageBlock, RawMessage
from streams.stages import enrich

if TYPE_CHECKING:
    import faust

    from streams.settings import Settings
    from streams.stages.language.detector import LanguageIdentifier

NAME = "language"


class LanguageDetection:
    """Detects from title and body; the producer's hint is kept, never trusted blindly."""

    name = NAME
    blocking = False

    def __init__(self, identifier: LanguageIdentifier) -> None:
        self.identifier = identifier

    def process(self, envelope: Envelope) -> LanguageBlock:
        detection = self.identifier.detect(f"{envelope.title or ''}\n\n{envelope.body}")
        return LanguageBlock(
            code=detection.code,
            confidence=round(detection.confidence, 4),
            detector=detection.detector,
            hint=envelope.hint,
        )

    def step(self, message: RawMessage) -> Envelope:
        return enrich(message, self.process)

    def observe(self, metrics: Metrics, envelope: Envelope) -> None:
        if envelope.language is not None:
            metrics.languages.labels(code=envelope.language.code).inc()

    def keep(self) -> None:
        """No state."""


def build(settings: Settings, app: faust.App) -> LanguageDetection:
    from streams.stages.language.detector import LanguageIdentifier

    return LanguageDetection(LanguageIdentifier(settings.languages or None))
