"""Re-measure one whole-brain fit of benchmarks/bench_encoding.py on a quiet machine (its child process, the same
arrays and arguments) and record it beside the record it completes.

Run:  .venv/bin/python benchmarks/bench_encoding_rerun.py RECORD [--voxels 29398]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from _harness import run_child, write_record
from bench_encoding import __file__ as bench_file
from bench_encoding import make_bands, write_targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record", help="the bench_encoding.py record whose whole-brain syncact fit is re-measured")
    parser.add_argument("--voxels", type=int, default=29398)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    record = json.loads(Path(args.record).read_text())
    w = record["whole_brain"]
    work = Path(tempfile.mkdtemp(prefix="bench-encoding-rerun-"))
    try:
        bands = make_bands(w["timepoints"], record["runs"])
        paths, owner = write_targets(work, bands, args.voxels)
        out = run_child(bench_file, "syncact", paths=[str(p) for p in paths], voxels=args.voxels,
                        timepoints=w["timepoints"], runs=record["runs"], n_iter=record["n_iter"], chunk=record["chunk"],
                        backend="auto")
        out["planted_band_wins"] = float((np.asarray(out.pop("winner")) == owner[: args.voxels]).mean())
        report = {"completes": Path(args.record).name, "voxels": args.voxels, "syncact": out,
                  "overhead": out["seconds"] / w["himalaya"]["seconds"]}
        print(report)
        print("wrote", write_record(args.out, "encoding-rerun", report))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
