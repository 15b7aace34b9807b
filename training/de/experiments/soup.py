"""Fifth-round experiment: average the weights of pipelines trained from one start.

The members must share their initialisation (train them with `tok2vec` and
`ner` sourced from one pipeline trained for a single step), or the average is
noise:

    python training/de/experiments/soup.py OUT MODEL_A MODEL_B MODEL_C
"""

# ruff: noqa: T201  (a command-line script: it reports by printing)

from __future__ import annotations

import sys

import numpy
import spacy


def main() -> None:
    out, paths = sys.argv[1], sys.argv[2:]
    nlps = [spacy.load(p) for p in paths]
    for name in nlps[0].pipe_names:
        models = [nlp.get_pipe(name).model for nlp in nlps]
        for nodes in zip(*(m.walk() for m in models), strict=True):
            for param in nodes[0].param_names:
                if nodes[0].has_param(param):
                    values = numpy.stack([node.get_param(param) for node in nodes])
                    nodes[0].set_param(param, values.mean(axis=0).astype(values.dtype))
    nlps[0].to_disk(out)
    print(f"soup of {len(paths)} -> {out}")


if __name__ == "__main__":
    main()
