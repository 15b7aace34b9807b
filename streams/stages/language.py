"""The `language` stage: which language an article is written in."""

from __future__ import annotations

from dataclasses import asdict

from streams.langid import LanguageIdentifier
from streams.metrics import Metrics
from streams.records import Article, InFlight, LanguageBlock

STAGE = "language"


class LanguageStage:
    """Detects from title and body; the producer's hint is kept, never trusted blindly."""

    name = STAGE

    def __init__(self, identifier: LanguageIdentifier) -> None:
        self.identifier = identifier

    def process(self, flight: InFlight) -> InFlight:
        article = flight.article
        title, body = article.get("title") or "", article["body"]
        detection = self.identifier.detect(f"{title}\n\n{body}")
        hint = article.get("language")
        article["language"] = asdict(
            LanguageBlock(
                code=detection.code,
                confidence=round(detection.confidence, 4),
                detector=detection.detector,
                hint=hint if isinstance(hint, str) else None,
            )
        )
        article["pipeline"]["stages"][STAGE] = {"detector": detection.detector}
        return flight

    @staticmethod
    def observe(metrics: Metrics, article: Article) -> None:
        metrics.languages.labels(code=article["language"]["code"]).inc()
