"""The `entities` stage: people, organisations, places and other names in the body."""

from __future__ import annotations

from streams.entities import EntityTagger
from streams.metrics import Metrics
from streams.records import Article, InFlight

STAGE = "entities"


class EntitiesStage:
    """Tags the body with the pipeline of the language the previous stage detected.

    Only the body is tagged: spans are offsets into it, and it is the text consumers keep.
    """

    name = STAGE

    def __init__(self, tagger: EntityTagger) -> None:
        self.tagger = tagger

    def process(self, flight: InFlight) -> InFlight:
        article = flight.article
        result = self.tagger.tag(article["body"], article["language"]["code"])
        article["entities"] = result.to_dicts()
        article["pipeline"]["stages"][STAGE] = {"tagger": result.tagger}
        return flight

    @staticmethod
    def observe(metrics: Metrics, article: Article) -> None:
        metrics.entities_per_article.observe(len(article["entities"]))
