"""Ten-fold pooled dev: one run of a recipe per GermEval dev fold, scored on its held-out tenth.

Fold k holds out the GermEval dev sentences i with i % 10 == k and trains on the
rest (plus the other sets); pooled over the ten folds every one of the 2,200
sentences is scored once, by a model that never saw its labels. Scores are exact
outer PER/ORG/LOC spans, as dev_eval.py and benchmarks/ner_eval.py count them.
Runs one fold after another (one training process at a time) and skips folds
already done, so an interrupted recipe resumes:

    python training/de/pooled_dev.py run base --pretrain-dir training/de/output/exp/pretrain_base
    python training/de/pooled_dev.py run smart --pretrain-dir ... --convert --extra smartdata
    python training/de/pooled_dev.py compare base smart

`--convert ...` passes the rest to `train.py convert`; `--train ...` (after it, or
alone) to `train.py train` (e.g. `--train --training.max_steps 6000`).
Results go to training/de/output/pooled/NAME/ (git-ignored).
"""

# ruff: noqa: T201, S311  (a command-line script: it prints; the bootstrap needs no crypto)

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
POOLED = HERE / "output" / "pooled"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from benchmarks.ner_eval import SCORED, Score  # noqa: E402

FOLDS = 10


def _split(rest: list[str]) -> tuple[list[str], list[str]]:
    """Arguments after --convert and after --train."""
    conv: list[str] = []
    train: list[str] = []
    target = None
    for arg in rest:
        if arg == "--convert":
            target = conv
        elif arg == "--train":
            target = train
        elif target is None:
            raise SystemExit(f"unexpected argument {arg!r} (put it after --convert or --train)")
        else:
            target.append(arg)
    return conv, train


def _run(*argv: str) -> None:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cmd = [sys.executable, str(HERE / "train.py"), *argv]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)


def _counts(score: Score) -> dict[str, dict[str, int]]:
    return {"tp": dict(score.tp), "fp": dict(score.fp), "fn": dict(score.fn)}


def run(args: argparse.Namespace, rest: list[str]) -> None:
    conv, train = _split(rest)
    from dev_eval import evaluate

    base = POOLED / args.name
    base.mkdir(parents=True, exist_ok=True)
    recipe = {
        "convert": conv,
        "train": train,
        "pretrain": str(args.pretrain_dir),
        "seed": args.seed,
    }
    (base / "recipe.json").write_text(json.dumps(recipe, indent=1))
    for fold in args.folds:
        out = base / f"f{fold}"
        result = out / "result.json"
        if result.exists():
            continue
        started = time.time()
        corpus = out / "corpus"
        _run("convert", "--corpus", str(corpus), "--dev-offset", str(fold), *conv)
        _run(
            "train", "--corpus", str(corpus), "--pretrain-dir", str(args.pretrain_dir),
            "--output", str(out / "model"), "--system.seed", str(args.seed), *train,
        )  # fmt: skip
        scores = {}
        for which in ("model-best", "model-last"):
            s = evaluate(out / "model" / which, corpus / "dev.spacy")
            scores[which] = _counts(s)
            print(f"fold {fold} {which}: F1 {s.prf()[2]:.3f}", flush=True)
        scores["seconds"] = round(time.time() - started)  # type: ignore[assignment]
        result.write_text(json.dumps(scores, indent=1))
        # The per-fold corpus is rebuilt by convert on demand; keep the models only.
        for name in ("train.spacy", "raw.jsonl"):
            (corpus / name).unlink(missing_ok=True)
    report(args.name, args.which)


def _load(name: str, which: str) -> dict[int, Score]:
    out = {}
    for fold in range(FOLDS):
        path = POOLED / name / f"f{fold}" / "result.json"
        if path.exists():
            c = json.loads(path.read_text())[which]
            out[fold] = Score(Counter(c["tp"]), Counter(c["fp"]), Counter(c["fn"]))
    return out


def _pool(scores: list[Score]) -> Score:
    total = Score(Counter(), Counter(), Counter())
    for s in scores:
        total.tp.update(s.tp)
        total.fp.update(s.fp)
        total.fn.update(s.fn)
    return total


def _line(name: str, folds: dict[int, Score]) -> str:
    pooled = _pool(list(folds.values()))
    p, r, f = pooled.prf()
    per = " ".join(f"{x} {pooled.prf(x)[2]:.3f}" for x in SCORED)
    return f"{name}: {len(folds)} folds, pooled P {p:.3f} R {r:.3f} F1 {f:.3f} ({per})"


def report(name: str, which: str) -> None:
    folds = _load(name, which)
    print(_line(name, folds))
    print("  per fold: " + " ".join(f"{k}:{v.prf()[2]:.3f}" for k, v in sorted(folds.items())))


def compare(names: list[str], which: str, boot: int = 2000) -> None:
    """Pooled F1 of each recipe on the folds all have, and paired fold gains over the first."""
    import random

    loaded = {n: _load(n, which) for n in names}
    common = sorted(set.intersection(*(set(v) for v in loaded.values())))
    first = loaded[names[0]]
    for name in names:
        folds = {k: loaded[name][k] for k in common}
        print(_line(name, folds))
        if name == names[0]:
            continue
        gains = [folds[k].prf()[2] - first[k].prf()[2] for k in common]
        ahead = sum(g > 0 for g in gains)
        diff = _pool(list(folds.values())).prf()[2] - _pool([first[k] for k in common]).prf()[2]
        # Paired bootstrap over folds: how often the pooled gain keeps its sign.
        rng = random.Random(0)
        same = 0
        for _ in range(boot):
            ks = [rng.choice(common) for _ in common]
            d = _pool([folds[k] for k in ks]).prf()[2] - _pool([first[k] for k in ks]).prf()[2]
            same += (d > 0) == (diff > 0)
        print(
            f"  vs {names[0]}: pooled {diff * 100:+.1f} points, {ahead} of {len(common)} folds "
            f"ahead (mean fold gain {sum(gains) / len(gains) * 100:+.1f}); "
            f"fold bootstrap keeps the sign in {same / boot:.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run")
    p_run.add_argument("name")
    p_run.add_argument("--pretrain-dir", type=Path, required=True)
    p_run.add_argument("--seed", type=int, default=0)
    p_run.add_argument("--folds", type=lambda v: [int(x) for x in v.split(",")],
                       default=list(range(FOLDS)))  # fmt: skip
    p_run.add_argument("--which", default="model-best")
    p_cmp = sub.add_parser("compare")
    p_cmp.add_argument("names", nargs="+")
    p_cmp.add_argument("--which", default="model-best", choices=["model-best", "model-last"])
    args, rest = parser.parse_known_args()
    if args.cmd == "run":
        run(args, rest)
    else:
        compare(args.names, args.which)


if __name__ == "__main__":
    main()
