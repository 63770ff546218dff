"""``s2f-train``: reproducible training of the voice models.

    s2f-train traits --data ../shared/data [--out models/traits-v1] [--cache /tmp/s2f-train-cache] [--limit N]
    s2f-train consistency --data ../shared/data [--out models/speaker-consistency-v1]
    s2f-train review-sheets --data ../shared/data --out DIR
    s2f-train comparison --data ../shared/data [--out models/comparison-v1] [--cache /tmp/s2f-train-cache]
    s2f-train snr-check --data ../shared/data

The first two are deterministic (fixed seeds, numpy fitting) and print their metrics; the
third re-creates the contact sheets of the AI rating of the face frames (see training/review.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from s2f_desktop import __version__
from s2f_desktop.core.errors import S2FError
from s2f_desktop.system.env import models_dir
from s2f_desktop.system.settings import DEVICES

DEFAULT_CACHE = Path(os.environ.get("S2F_TRAIN_CACHE", "/tmp/s2f-train-cache"))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``s2f-train``."""
    p = argparse.ArgumentParser(prog="s2f-train", description="Train and calibrate s2f-desktop's voice models.")
    p.add_argument("--version", action="version", version=f"s2f-train (s2f-desktop) {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = sub.add_parser("traits", help="train the sex/age heads and write models/traits-<version>/")
    t.add_argument("--data", type=Path, required=True, help="folder holding avspeech-968 and librispeech-* (read-only)")
    t.add_argument("--version", default="v1", help="model version suffix: writes models/traits-<version> (default v1)")
    t.add_argument("--out", type=Path, help="output folder (default: models/traits-<version>)")
    t.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="feature cache outside the repo")
    t.add_argument("--limit", type=int, help="smoke test: only the first N videos/speakers of each corpus")
    t.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95 %% CIs")
    t.add_argument("--device", default="cpu", choices=DEVICES,
                   help="where features are extracted (default cpu: reproducible byte for byte)")
    c = sub.add_parser("consistency",
                       help="calibrate the speaker-consistency threshold (EER on LibriSpeech test-other)")
    c.add_argument("--data", type=Path, required=True, help="folder holding librispeech-test-other-10x10 (read-only)")
    c.add_argument("--out", type=Path, help="output folder (default: models/speaker-consistency-v1)")
    c.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95 %% CI of the EER")
    c.add_argument("--device", default="cpu", choices=DEVICES, help="where embeddings are computed (default cpu)")
    k = sub.add_parser("comparison", help="train and validate the speaker-comparison LR system (models/comparison-v1)")
    k.add_argument("--data", type=Path, required=True,
                   help="folder holding the three corpora of ../shared/data (read-only)")
    k.add_argument("--out", type=Path, help="output folder (default: models/comparison-v1)")
    k.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="window-embedding cache outside the repo")
    k.add_argument("--quality-cache", type=Path,
                   help="the trait trainer's feature cache, for each clip's quality record (default: --cache)")
    k.add_argument("--bootstrap", type=int, default=500, help="bootstrap resamples for the 95 %% CIs")
    k.add_argument("--device", default="cpu", choices=DEVICES,
                   help="where embeddings are computed (default cpu: reproducible)")
    q = sub.add_parser("snr-check", help="validate the quality gate's SNR estimator on known speech + noise mixtures")
    q.add_argument("--data", type=Path, required=True, help="folder holding the corpora of ../shared/data (read-only)")
    r = sub.add_parser("review-sheets",
                       help="re-create the numbered face contact sheets shown to the AI rating of the face frames")
    r.add_argument("--data", type=Path, required=True, help="folder holding avspeech-968/faces (read-only)")
    r.add_argument("--out", type=Path, required=True, help="folder for sheetNN.png and order.json")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = build_parser().parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.command == "traits":
            from s2f_desktop.training.traits_train import train_traits

            out = args.out or models_dir() / f"traits-{args.version}"
            result = train_traits(args.data, out, args.cache, limit=args.limit, version=args.version,
                                  device=args.device, n_boot=args.bootstrap, log=log)
        elif args.command == "comparison":
            from s2f_desktop.training.comparison_train import train_comparison

            out = args.out or models_dir() / "comparison-v1"
            result = train_comparison(args.data, out, args.cache, device=args.device, n_boot=args.bootstrap, log=log,
                                      quality_cache=args.quality_cache)
        elif args.command == "snr-check":
            from s2f_desktop.training.snr_check import run_check

            result = run_check(args.data, log=log)
            result.pop("rows", None)
        elif args.command == "review-sheets":
            from s2f_desktop.training.data import AVSPEECH
            from s2f_desktop.training.review import write_sheets

            paths = write_sheets(args.data / AVSPEECH / "faces", args.out, log=log)
            result = {"sheets": [str(p) for p in paths], "order": str(args.out / "order.json")}
        else:
            from s2f_desktop.training.consistency_train import calibrate_consistency

            out = args.out or models_dir() / "speaker-consistency-v1"
            result = calibrate_consistency(args.data, out, device=args.device, n_boot=args.bootstrap, log=log)
    except S2FError as exc:
        print(f"s2f-train: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
