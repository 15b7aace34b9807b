"""The `entities` stage: people, organisations, places and other names in the body."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.metrics import Metrics
from streams.records import EntitiesBlock, Envelope, RawMessage
from streams.stages import enrich

if TYPE_CHECKING:
    import faust

    from streams.settings import Settings
    from streams.stages.entities.places import PlaceLinker
    from streams.stages.entities.tagger import EntityTagger

NAME = "entities"


class EntityTagging:
    """Tags the body with the pipeline of the language the previous stage detected, then
    links its places.

    Only the body is tagged: spans are offsets into it, and it is the text consumers keep.
    """

    name = NAME
    blocking = True

    def __init__(self, tagger: EntityTagger, linker: PlaceLinker | None) -> None:
        self.tagger = tagger
        self.linker = linker

    def process(self, envelope: Envelope) -> EntitiesBlock:
        if envelope.language is None:
            raise ValueError("the entities stage needs the language stage's block")
        code = envelope.language.code
        block = self.tagger.tag(envelope.body, code)
        return block if self.linker is None else self.linker.link(block, code)

    def step(self, message: RawMessage) -> Envelope:
        return enrich(message, self.process)

    def observe(self, metrics: Metrics, envelope: Envelope) -> None:
        if envelope.entities is not None:
            metrics.entities_per_article.observe(len(envelope.entities.entities))
            # Countries only: a bounded label set, where a label per city would not be.
            for country in {place.country for place in envelope.entities.places.places}:
                metrics.places.labels(country=country).inc()

    def keep(self) -> None:
        """No state."""


def build(settings: Settings, app: faust.App) -> EntityTagging:
    from streams.stages.entities.gazetteer import build_gazetteer
    from streams.stages.entities.places import PlaceLinker
    from streams.stages.entities.tagger import EntityTagger

    tagger = EntityTagger(settings.entity_pipelines)
    # With no pipeline nothing is tagged LOC, and the gazetteer costs 4 s and 180 MiB.
    linker = PlaceLinker(build_gazetteer()) if tagger.taggers else None
    return EntityTagging(tagger, linker)
