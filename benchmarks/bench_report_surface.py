"""The run report on grayordinates beside the same report on volumes, measured in one process.

Run:  .venv/bin/python benchmarks/bench_report_surface.py [--data DIR] [--out DIR]

The experiment of ``bench_report.py`` (K = 64 FBNs, EfficientNet-Lite0/1/2 with ImageNet weights and ResNet-18 with
random weights, cross-annotation, 256 cards) runs on the embedded dataset in both spaces, 10 subjects x 2 runs x
200 TRs each: the MNI152 4 mm volume (BIDS) and the 59,412 cortical grayordinates of the HCP standard (HCP layout,
CIFTI; FBN maps drawn on the inflated fsLR surfaces, described by the HCP parcellations). Recorded per space: the
seconds of every stage, the report's (cards + page), the time to draw one FBN map, and the page's size.
Bar (issue 21): the grayordinate report (cards + page) within 1.5x of the volume report's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import peak_gb, write_record
from bench_report import report_config

from syncact.config import parse_config
from syncact.experiment import run_experiment
from syncact.simulate import make_dataset

SPACES = {"MNI152": "volume", "fsLR32k": "surface"}


def _one(data: Path, space: str) -> dict[str, object]:
    """Run the experiment on one space's dataset; the stages' seconds, the report's, one map's drawing and the size."""
    from syncact.report.surface import store_picture

    marker = data / ("README" if space == "fsLR32k" else "dataset_description.json")
    if not marker.is_file():
        make_dataset(data, n_subjects=10, n_runs=2, n_timepoints=200, seed=0, space=space, progress=True)
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        result = run_experiment(parse_config(report_config(data, cifti=space == "fsLR32k")), Path(tmp) / "run", progress=True)
        total = time.perf_counter() - tic
        report_dir = result.report_path.parent
        size_mb = sum(p.stat().st_size for p in report_dir.iterdir()) / 1e6
        n_cards = result.report_path.read_text().count('class="card"')
        from syncact.brain import PreparedStore

        store = PreparedStore(Path(tmp) / "run" / "prepared.zarr")
        maps = result.embedding.maps_
        tic = time.perf_counter()
        for k in range(8):
            store_picture(store, maps[k], f"FBN-{k:02d}")
        per_map = (time.perf_counter() - tic) / 8
    timings = {k: round(v, 1) for k, v in result.timings.items()}
    report_s = timings.get("cards", 0.0) + timings["report"]
    print(f"{space}: stages (s) {timings}; report {report_s:.1f} s for {n_cards} cards, {size_mb:.1f} MB; one map "
          f"{per_map:.3f} s; features {maps.shape[1]}")
    return {"timings": timings, "report_s": report_s, "cards": n_cards, "report_mb": size_mb, "total_s": total,
            "map_s": per_map, "n_features": int(maps.shape[1]),
            "median_abs_map": float(np.median(np.abs(maps)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "syncact-bench-report-spaces")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    spaces = {space: _one(args.data / label, space) for space, label in SPACES.items()}
    ratio = spaces["fsLR32k"]["report_s"] / spaces["MNI152"]["report_s"]
    print(f"grayordinate report / volume report: {ratio:.2f} (bar <= 1.5); peak {peak_gb():.2f} GB")
    path = write_record(args.out, "report-surface", {"spaces": spaces, "ratio_report_s": ratio, "peak_gb": peak_gb(),
                                                     "n_fbns": 64})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
