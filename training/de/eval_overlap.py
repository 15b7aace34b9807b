"""List the training documents that are near copies of German eval text (eval_overlap.txt).

SmartData's training file and MobIE come from the same DFKI feeds as the SmartData
v3 test set: some traffic reports, tweets and dpa-AFX items occur in both, word for
word. `train.py convert` never trains on a document listed in eval_overlap.txt: one
with at least half of its word 8-grams in the text of a German eval set (GermEval
2014 test, UNER German PUD, SmartData v3 test). The eval sets are only read here,
to find copies of their text; nothing is tuned on them. ZEFYS2025 and HIPE-2022
share no 8-gram with them.

    python training/de/eval_overlap.py > training/de/eval_overlap.txt
"""

# ruff: noqa: T201  (a command-line script: it prints the list)

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TRAIN = Path(os.environ.get("STREAMS_NER_TRAIN_DATA", ROOT.parent / "shared/data/train/ner"))
EVAL = Path(os.environ.get("STREAMS_NER_EVAL_DATA", ROOT.parent / "shared/data/eval/ner"))
N = 8
SHARE = 0.5


def words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)


def grams(ws: list[str]) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + N]) for i in range(len(ws) - N + 1)}


def column(path: Path, col: int) -> list[str]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\r\n").split("\t")
            if line.startswith("#") or len(parts) <= col:
                continue
            out.append(parts[col])
    return out


def eval_grams() -> set[tuple[str, ...]]:
    texts = [
        " ".join(column(EVAL / "germeval2014/NER-de-test.tsv", 1)),
        " ".join(column(EVAL / "uner/de_pud-ud-test.iob2", 1)),
    ]
    with (EVAL / "smartdata-de/smartdata_v3_test.jsonl").open(encoding="utf-8") as f:
        texts += [json.loads(line)["text"] for line in f]
    out: set[tuple[str, ...]] = set()
    for text in texts:
        out |= grams(words(text))
    return out


def smartdata() -> Iterator[tuple[str, str]]:
    with (TRAIN / "smartdata-de/smartdata_train.jsonl").open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            yield rec["id"], rec["text"]


def mobie() -> Iterator[tuple[str, str]]:
    for path in sorted((TRAIN / "mobie").glob("*.conll2003")):
        doc_id, toks = None, []
        with path.open(encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] == "-DOCSTART-":
                    if doc_id is not None:
                        yield doc_id, " ".join(toks)
                    doc_id, toks = parts[1].strip("-"), []
                elif parts:
                    toks.append(parts[0])
        if doc_id is not None:
            yield doc_id, " ".join(toks)


def main() -> None:
    seen = eval_grams()
    print(f"# training documents with >= {SHARE:.0%} of their word {N}-grams in German eval text")
    print("# set\tid\tshare")
    for name, docs in (("smartdata", smartdata()), ("mobie", mobie())):
        for doc_id, text in docs:
            g = grams(words(text))
            share = len(g & seen) / len(g) if g else 0.0
            if share >= SHARE:
                print(f"{name}\t{doc_id}\t{share:.2f}")


if __name__ == "__main__":
    main()
