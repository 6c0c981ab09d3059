"""The demo's figures, recorded: what README.md and docs quote about `syncact demo`, written by a run.

Run:  .venv/bin/python benchmarks/bench_demo.py [--identify ica none] [--space MNI152 | fsLR32k]

Runs the demo (seed 0, default config) in a fresh child process per setting of ``[embedding] identify``
(``ica``, the default, and ``none``, the paper's raw weights, for the before/after comparison) and writes
``benchmarks/results/demo-<date>.json`` with :func:`syncact.demo.demo_figures` (recovery of the planted
networks, detection by the shift test, the mismatched-movie control, mean PCC range, annotation hits),
the wall time and the peak memory of each run. ``tests/test_demo.py`` runs the demo and holds its
figures to the latest record within stated tolerances. ``--space fsLR32k`` runs the grayordinate demo instead
(record ``demo-surface-<date>.json``, held by ``tests/test_demo_surface.py``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import peak_gb, run_child, serve_child, write_record


def pca_span_r(out: Path, result, n_components: int = 16) -> dict[str, float]:  # noqa: ANN001 - ExperimentResult
    """How well the top principal components of the training runs (z-scored, as the embedding sees them) hold each
    planted map: the span r of an exact PCA, a ceiling for any linear method with K = ``n_components``."""
    import numpy as np
    from scipy.sparse.linalg import svds

    from syncact.brain import PreparedStore

    store = PreparedStore(out / "prepared.zarr")
    runs = [(s, r) for s in result.split["train"] for r in result.fbn_activations]
    x = np.concatenate([store.read(s, r) for s, r in runs]).astype(np.float64)
    _, _, vt = svds(x, k=n_components, random_state=0)
    basis, _ = np.linalg.qr(vt.T)
    spans = {}
    for row, planted in zip(result.recovery.itertuples(), _planted(out, store), strict=True):
        centred = planted - planted.mean()
        spans[row.network] = round(float(np.corrcoef(basis @ (basis.T @ centred), planted)[0, 1]), 4)
    return spans


def _planted(out: Path, store) -> list:  # noqa: ANN001 - PreparedStore
    from syncact.simulate import load_ground_truth

    _, maps, mask = load_ground_truth(out / "data")
    if mask is None:  # grayordinates: the maps cover every column of the data
        return list(maps[:, store.voxels])
    volume = np.zeros(mask.shape + (len(maps),))
    volume[mask] = maps.T
    return list(volume[np.asarray(store.mask_img().dataobj, dtype=bool)].T)


def demo(identify: str, space: str = "MNI152") -> dict:
    from syncact.demo import demo_figures, run_demo

    out = Path(tempfile.mkdtemp(prefix="syncact-demo-"))
    try:
        tic = time.perf_counter()
        result = run_demo(out, identify=identify, space=space, progress=False)
        wall = time.perf_counter() - tic
        return {**demo_figures(result), "wall_seconds": wall, "peak_gb": peak_gb(),
                "pca_span_r": pca_span_r(out, result)}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        serve_child(sys.argv[2], {"demo": demo})
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identify", nargs="+", default=["ica", "none"], choices=["ica", "none"])
    parser.add_argument("--space", default="MNI152", choices=["MNI152", "fsLR32k"])
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    report = {"args": vars(args)}
    for identify in args.identify:
        report[identify] = run_child(__file__, "demo", identify=identify, space=args.space)
        print(identify, report[identify], flush=True)
    print("record:", write_record(args.out, "demo" if args.space == "MNI152" else "demo-surface", report))


if __name__ == "__main__":
    main()
