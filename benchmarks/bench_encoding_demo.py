"""[encoding] on the demo: the embedded dataset (10 subjects, 2 runs of 200 TRs, 29,398 voxels on the 4 mm grid)
through the demo's configuration (which has ``[encoding]``), recording what the encoding found and what it cost;
``--n-components K`` reruns it with K principal components per layer. (``benchmarks/bench_demo.py`` records the
demo's encoding figures too, beside the rest of the demo; this script is for variants of ``[encoding]``.)

Run:  .venv/bin/python benchmarks/bench_encoding_demo.py [--work DIR] [--n-components K] [--out DIR]

Records per model and band the share of voxels whose held-out r passes their own circular-shift null and the
same share with another run's movie (the false-positive rate), per planted network the share of its voxels
predicted and the share its planted layer wins (issue 20's bars:
>= 80 % for the CNN-driven networks, spontaneous networks at the null's 5 %), the FBNs whose encoding layer is
their best Eq.2 layer, and the seconds of the encoding stage with the peak memory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _harness import peak_gb, write_record

from syncact.config import load_config
from syncact.demo import run_demo
from syncact.experiment import run_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "syncact-bench-encoding-demo")
    parser.add_argument("--n-components", type=int, default=None, help="PCA per layer (default: every filter)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    tic = time.perf_counter()
    result = run_demo(args.work, progress=True)  # the demo as shipped (with [encoding]); a rerun reuses its units
    if args.n_components:  # the same run with PCA per layer before the delays
        text = (args.work / "experiment.toml").read_text()
        (args.work / "encoding.toml").write_text(text.replace("[encoding]\n", f"[encoding]\nn_components = {args.n_components}\n"))
        tic = time.perf_counter()
        result = run_experiment(load_config(args.work / "encoding.toml"), args.work, progress=True, overwrite=True)
    total = time.perf_counter() - tic
    enc = result.encoding
    table = enc.table.to_dict(orient="records")
    truth = enc.truth.to_dict(orient="records") if enc.truth is not None else []
    agree = enc.fbn_table.groupby("model")["same_layer"].agg(["sum", "size"]).reset_index().to_dict(orient="records")
    for row in truth:
        print(f"{row['model']:20s} {row['network']:26s} predicted {row['share_significant']:.2f}  "
              f"won by planted layer {row['share_won_planted']:.2f}")
    encoding_s = result.timings.get("units:encoding", 0.0) + result.timings["encoding"]  # its units, then its tables
    print(f"encoding stage {encoding_s:.0f} s (run {total:.0f} s), peak {peak_gb():.2f} GB")
    path = write_record(args.out, "encoding-demo", {
        "n_components": args.n_components, "encoding_s": encoding_s, "run_s": total,
        "peak_gb": peak_gb(), "table": table, "truth": truth, "same_layer": agree})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
