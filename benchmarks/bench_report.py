"""Report generation at the size the plan names: 64 FBNs x 4 models, with cross-annotation.

Run:  .venv/bin/python benchmarks/bench_report.py [--data DIR] [--out DIR]

Runs the pipeline on the embedded dataset (generated under ``--data`` when missing: 10 subjects x 2 runs x
200 TRs) with K = 64 FBNs, a short training (5 epochs: the report's cost does not depend on it) and four
models - EfficientNet-Lite0, Lite1, Lite2 (real ImageNet weights, offline) and ResNet-18 (random weights) -
and reports the seconds of each stage, the report's among them (the cards' data: one more forward pass over the
top frames; then the page: summary, tables, charts, 64 FBN maps, PCC matrices, one card per pair of every model's
last layer with its frames, feature maps and descriptions), and its size.
Targets (issue 19): cards + page within 1.2x, and the page's size within 1.5x, of the report before it read like a
results section (record report-20261202-060824.json: 30.6 s, 15.0 MB, measured on the same machine that day).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _harness import peak_gb, write_record

from syncact.config import parse_config
from syncact.experiment import run_experiment
from syncact.simulate import make_dataset

MODELS = [("efficientnet_lite0", "imagenet"), ("efficientnet_lite1", "imagenet"), ("efficientnet_lite2", "imagenet"),
          ("resnet18", "random")]


def _baseline(path: Path) -> dict[str, object] | None:
    """The earlier record's report seconds (cards + page) and size, to put the ratios beside."""
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    timings = record["timings"]
    return {"record": path.name, "report_s": record.get("report_s", timings.get("cards", 0.0) + timings["report"]),
            "report_mb": record["report_mb"]}


def report_config(data: Path, *, cifti: bool = False) -> dict[str, object]:
    """The benchmark's experiment: K = 64, four models, cross-annotation with the planted term maps (on grayordinates:
    HCP layout, described by the HCP parcellations)."""
    described = {"atlases": [], "parcellations": ["yeo7", "yeo17", "ca_networks", "mmp"]} if cifti else {}
    return {
        "name": "bench-report", "seed": 0,
        "data": {"bids": str(data), "task": "movie", **({"layout": "hcp", "hcp_data": "cifti"} if cifti else {})},
        "movies": [{"run": str(r), "path": str(data / "stimuli" / f"task-movie_run-{r}.mp4")} for r in (1, 2)],
        "models": [{"name": name, "weights": weights, "layers": ["block3", "last_conv"]} for name, weights in MODELS],
        "embedding": {"n_networks": 64, "temporal": "msa", "n_epochs": 5},
        "pairing": {"hrf": "glover"},
        "annotation": {"term_maps": str(data / "derivatives" / "ground_truth" / "term_maps"), **described},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "syncact-bench-report-data")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--baseline", type=Path, default=Path(__file__).parent / "results" / "report-20261202-060824.json",
                        help="an earlier record to compare with (its report seconds and size)")
    args = parser.parse_args()
    if not (args.data / "dataset_description.json").is_file():
        make_dataset(args.data, n_subjects=10, n_runs=2, n_timepoints=200, seed=0, progress=True)
    raw = report_config(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        result = run_experiment(parse_config(raw), Path(tmp) / "run", progress=True)
        total = time.perf_counter() - tic
        report_dir = result.report_path.parent
        size_mb = sum(p.stat().st_size for p in report_dir.iterdir()) / 1e6
        n_cards = result.report_path.read_text().count('class="card"')
    timings = {k: round(v, 1) for k, v in result.timings.items()}
    report_s = result.timings.get("cards", 0.0) + result.timings["report"]  # earlier records timed both as "report"
    print(f"stages (s): {timings}")
    print(f"report: {report_s:.1f} s (cards + page) for {n_cards} cards, {size_mb:.1f} MB; total {total:.0f} s, "
          f"peak {peak_gb():.2f} GB")
    path = write_record(args.out, "report", {"timings": timings, "report_s": report_s, "cards": n_cards,
                                             "report_mb": size_mb, "total_s": total, "peak_gb": peak_gb(),
                                             "models": MODELS, "n_fbns": 64, "baseline": _baseline(args.baseline)})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
