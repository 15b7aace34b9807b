"""The enrichment stages, one module each, in pipeline order."""
