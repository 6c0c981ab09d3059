"""The study run for real at HCP run length, timed on 1 and 2 workers, and projected to 184 subjects x 4 runs.

Run:  .venv/bin/python benchmarks/bench_study_run.py [--subjects 10] [--epochs 5] [--workers 1 2]

The embedded dataset (``syncact.simulate.make_dataset``: real photos as movies, networks planted through
EfficientNet-Lite2) at the HCP 7T design: ``--subjects`` x 4 runs x 900 volumes (TR 1 s) on the MNI152
4 mm grid (29,398 voxels). ``syncact run --workers N`` runs the whole pipeline as one graph (docs/distributed.md)
in a fresh run directory with a fresh activation cache: preparation, frames, EfficientNet-Lite0 (ImageNet;
block1-4 and last_conv) and ResNet-18 (random; the same layers), the paper's embedding at K = 64 (LT+MSA,
principal subspace r = 256, ``--epochs`` epochs), the test subjects' FBN activations and every pairing.

Recorded: wall time per worker count, the provenance's stage timings, and every unit's time
(``units/.timeline.json``). The projection to the paper's study (184 subjects x 4 runs; 10 models x 4 layers
x 2 weight sets; 100 epochs) scales each stage's measured unit cost by the study's unit count and size:

* preparation and test transforms: per run; extraction: per model x run (the measured models' mean);
  pairing: per model x layer x run; the randomized subspace: per training row (4 shares per pass at most
  run side by side); the fit: its epochs (``brain/training.csv``) per training row and epoch, the rest of the
  unit (reading, identification) per training row, one unit (one worker thread) end to end;
* on W workers the graph needs at least max(work / W, the longest path: preparation / W, then the subspace,
  the fit, the transforms and pairing).

No GPU was lent to this session, so the fit's epoch on a GPU is not measured and not projected.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _harness import syncact_run, write_record

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["block1", "block2", "block3", "block4", "last_conv"]
STUDY = {"subjects": 184, "runs": 4, "timepoints": 900, "models": 10, "layers": 4, "weights": 2, "epochs": 100,
         "split": (0.6, 0.1, 0.3)}

CONFIG = """name = "study"
seed = 0

[data]
bids = "data"
task = "movie"
mask = "mni152"

{movies}
[[models]]
name = "efficientnet_lite0"
weights = "imagenet"
layers = {layers}

[[models]]
name = "resnet18"
weights = "random"
layers = {layers}

[embedding]
n_networks = 64
temporal = "msa"
n_epochs = {epochs}
n_components = 256

[pairing]
hrf = "glover"
"""


def run(config: Path, out: Path, cache: Path, workers: int) -> dict:
    """One ``syncact run`` on ``workers``: wall time, stage timings, the split, each epoch's seconds and, per stage,
    its units' count and seconds (``units/.timeline.json``)."""
    import pandas as pd

    wall, timings = syncact_run(config, out, cache=cache, workers=workers)
    timeline = json.loads((out / "units" / ".timeline.json").read_text())
    by_stage: dict[str, list[float]] = defaultdict(list)
    for name, (start, stop) in timeline.items():
        by_stage[name.split("/")[0]].append(stop - start)
    split = json.loads((out / "brain" / "split.json").read_text())
    epochs = pd.read_csv(out / "brain" / "training.csv")["seconds"].tolist()
    return {"wall_s": round(wall, 1), "timings": {k: round(v, 2) for k, v in timings.items()},
            "split": {group: len(subjects) for group, subjects in split.items()},
            "epoch_s": [round(e, 3) for e in epochs],
            "units": {stage: {"n": len(v), "total_s": round(sum(v), 2), "mean_s": round(sum(v) / len(v), 3)}
                      for stage, v in by_stage.items()},
            "timeline": timeline}


def project(measured: dict, args: argparse.Namespace) -> dict:
    """The paper's study from the measured unit costs (the module docstring), on 1, 16 and 64 workers."""
    units, split, s = measured["units"], measured["split"], STUDY
    train_rows = split["train"] * 4 * args.t
    n_test_runs = split["test"] * 4
    study_runs = s["subjects"] * s["runs"]
    study_train_rows = round(s["subjects"] * s["split"][0]) * s["runs"] * s["timepoints"]
    study_test_runs = round(s["subjects"] * s["split"][2]) * s["runs"]
    per = {
        "prepare": units["prepare"]["mean_s"],
        "extract": units["extract"]["mean_s"],
        "subspace_per_row": units["subspace"]["total_s"] / train_rows,
        # the fit unit = its epochs (training.csv) + the rest (reading the runs, identification, validation)
        "fit_per_row_epoch": sum(measured["epoch_s"]) / (train_rows * len(measured["epoch_s"])),
        "fit_rest_per_row": (units["embed"]["total_s"] - sum(measured["epoch_s"])) / train_rows,
        "transform_per_test_run": units["transform"]["total_s"] / n_test_runs,
        "pair": units["pair"]["mean_s"],
    }
    work = {  # seconds of one worker thread, the study's counts
        "prepare": per["prepare"] * study_runs,
        "extract": per["extract"] * s["models"] * s["weights"] * s["runs"],
        "subspace": per["subspace_per_row"] * study_train_rows,
        "fit": (per["fit_per_row_epoch"] * s["epochs"] + per["fit_rest_per_row"]) * study_train_rows,
        "transform": per["transform_per_test_run"] * study_test_runs,
        "pair": per["pair"] * s["models"] * s["layers"] * s["weights"] * s["runs"],
    }
    total = sum(work.values())
    out = {"unit_costs_s": per, "study_work_s": work, "study_work_hours": total / 3600, "on": {}}
    for w in (1, 16, 64):
        path = (work["prepare"] / w + work["subspace"] / min(w, 4) + work["fit"] + work["transform"] / w
                + work["pair"] / w)
        out["on"][str(w)] = {"hours": max(total / w, path) / 3600, "longest_path_hours": path / 3600,
                             "work_over_workers_hours": total / w / 3600}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--t", type=int, default=900)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    from syncact.simulate import make_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench-study-run-"))
    try:
        tic = time.perf_counter()
        make_dataset(tmp / "data", n_subjects=args.subjects, n_runs=4, n_timepoints=args.t, seed=0,
                     cache=tmp / "plant-cache")
        made = time.perf_counter() - tic
        print(f"dataset: {args.subjects} subjects x 4 runs x {args.t} volumes in {made:.0f} s", flush=True)
        movies = "".join(f'[[movies]]\nrun = "{r}"\npath = "data/stimuli/task-movie_run-{r}.mp4"\n\n' for r in range(1, 5))
        config = tmp / "experiment.toml"
        config.write_text(CONFIG.format(movies=movies, layers=json.dumps(LAYERS), epochs=args.epochs))
        runs = {}
        for w in args.workers:
            runs[str(w)] = run(config, tmp / f"run-{w}", tmp / f"cache-{w}", w)
            print(f"{w} worker(s): {runs[str(w)]['wall_s']:.0f} s", flush=True)
            shutil.rmtree(tmp / f"run-{w}" / "prepared.zarr", ignore_errors=True)  # 4 GB each: keep the disk free
        store_gb = args.subjects * 4 * args.t * 29_398 * 4 / 1e9
        largest = str(max(args.workers))
        report = {"args": vars(args), "dataset_s": round(made, 1), "store_gb": round(store_gb, 2),
                  "size": f"{args.subjects} subjects x 4 runs x {args.t} TRs on the 4 mm grid (29,398 voxels)",
                  "runs": runs, "speedup": runs[str(min(args.workers))]["wall_s"] / runs[largest]["wall_s"],
                  "projection": project(runs[largest], args), "study": STUDY, "cpus": os.cpu_count(),
                  "gpu": "none lent to this session: not measured"}
        for r in runs.values():
            r.pop("timeline")  # kept in the run directory only (thousands of rows on a large graph)
        p = report["projection"]
        print(f"projected study: {p['study_work_hours']:.1f} unit-hours; on 16 workers {p['on']['16']['hours']:.2f} h "
              f"(longest path {p['on']['16']['longest_path_hours']:.2f} h)")
        write_record(args.out, "study-run", report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
