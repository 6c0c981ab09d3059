"""Whole-brain encoding cost: syncact's fit_encoding beside himalaya called directly on the same arrays and folds,
and beside scikit-learn's RidgeCV fitted per band (no banded search), each in its own process, side by side in
one run; peak memory at two voxel counts (targets read in chunks from memory-mapped files).

Run:  .venv/bin/python benchmarks/bench_encoding.py [--timepoints 900] [--runs 4] [--voxels 29398] [--out DIR]
(about 75 minutes on 2 cores; --skip-whole-brain: the comparison and the solver sweep, about 12 minutes)

Memory is reported twice: the peak resident set (ru_maxrss, which counts the page cache of memory-mapped files
the process reads) and the peak of its anonymous memory (RssAnon, sampled: its own arrays).

The shape of the issue's bar: EfficientNet-Lite0's four blocks and ``last_conv`` (24, 40, 112, 320 and 1,280
filters: its real widths) as five bands, 4 delays (7,104 features), 900 TRs x 4 runs, every voxel of the 4 mm
MNI grid (29,398). Features are random (the cost does not depend on their content); each voxel is driven by one
band through a few directions plus noise. Every fit uses the same alphas, band-weight candidates and
leave-one-run-out folds (inner: leave one of the other runs out).

Two parts. The comparison, at a shorter run length (300 TRs) so that four fits take minutes: seconds and ratios
(syncact / himalaya alone: the wrapper's overhead, which includes its circular-shift null and split scores;
scikit-learn / syncact; torch / numpy backend on the CPU). The whole brain at the full shape with the default
backend: seconds, peak memory at 29,398 voxels and at two chunks' worth (flat in voxels), how often the voxel's
planted band wins, and himalaya alone on the same arrays (every voxel in memory, the same n_targets_batch).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import AnonPeak, peak_gb, run_child, serve_child, write_record

LITE0 = {"block1": 24, "block2": 40, "block3": 112, "block4": 320, "last_conv": 1280}
DELAYS = [1, 2, 3, 4]  # TR 2 s: 2-8 s of haemodynamic lag


def make_bands(timepoints: int, runs: int) -> dict[str, list[np.ndarray]]:
    """Lite0-shaped random activations, smoothed over a few TRs, as delayed z-scored bands."""
    from syncact.encoding import band_features

    rng = np.random.default_rng(0)
    kernel = np.ones(3) / 3
    raw = {}
    for name, width in LITE0.items():
        runs_ = []
        for _ in range(runs):
            x = rng.standard_normal((timepoints + 2, width))
            runs_.append(np.stack([np.convolve(x[:, j], kernel, "valid") for j in range(width)], axis=1))
        raw[name] = runs_
    return band_features(raw, DELAYS)


def write_targets(work: Path, bands: dict[str, list[np.ndarray]], voxels: int,
                  chunk: int = 4096) -> tuple[list[Path], np.ndarray]:
    """Per run, a (voxels, timepoints) float32 memory-mapped file, each voxel driven by one band plus noise; and
    the index of each voxel's band."""
    rng = np.random.default_rng(1)
    names = list(bands)
    owner = rng.integers(len(names), size=voxels)
    paths = []
    for i in range(len(bands[names[0]])):
        t = bands[names[0]][i].shape[0]
        path = work / f"run-{i}.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(voxels, t))
        for start in range(0, voxels, chunk):
            stop = min(start + chunk, voxels)
            weights = np.random.default_rng((2, start)).standard_normal((8, stop - start))  # the same in every run
            block = np.zeros((t, stop - start))
            for b, name in enumerate(names):
                cols = np.flatnonzero(owner[start:stop] == b)
                directions = np.random.default_rng((3, b)).standard_normal((bands[name][i].shape[1], 8))
                block[:, cols] = (bands[name][i] @ directions) @ weights[:, cols]
            block /= block.std(axis=0) + 1e-12
            out[start:stop] = (block + 2 * rng.standard_normal(block.shape)).T
        out.flush()
        del out
        paths.append(path)
    return paths, owner


def _targets(paths: list[str], voxels: int) -> list[np.ndarray]:
    """(timepoints, voxels) views of the memory-mapped files: a chunk of columns is a contiguous read."""
    return [np.load(p, mmap_mode="r")[:voxels].T for p in paths]


def child_syncact(paths: list[str], voxels: int, timepoints: int, runs: int, n_iter: int, chunk: int,
                  backend: str) -> dict:
    from syncact.encoding import fit_encoding

    anon = AnonPeak()
    bands = make_bands(timepoints, runs)
    targets = _targets(paths, voxels)
    tic = time.perf_counter()
    scores = fit_encoding(bands, targets, n_iter=n_iter, chunk_size=chunk, backend=backend,
                          scratch_dir=str(Path(paths[0]).parent))
    seconds = time.perf_counter() - tic
    return {"seconds": seconds, "peak_gb": peak_gb(), "peak_anon_gb": anon.gb(), "solver": scores.solver,
            "backend": scores.meta["backend"],
            "mean_r": float(scores.mean_r.mean()),
            "winner": scores.winner().tolist() if voxels <= 50_000 else None}


def child_himalaya(paths: list[str], voxels: int, timepoints: int, runs: int, n_iter: int, chunk: int) -> dict:
    """The same leave-one-run-out fits with himalaya's kernel solver called directly, every voxel in one call (the
    targets in memory), ``chunk`` targets at a time (its n_targets_batch) as syncact reads them."""
    from himalaya.kernel_ridge import MultipleKernelRidgeCV
    from himalaya.scoring import correlation_score

    from syncact.encoding.model import DEFAULT_ALPHAS
    from syncact.encoding.solvers import _inner_cv

    anon = AnonPeak()
    bands = make_bands(timepoints, runs)
    targets = [np.asarray(t, dtype=np.float64) for t in _targets(paths, voxels)]
    targets = [(t - t.mean(0)) / t.std(0) for t in targets]
    tic = time.perf_counter()
    names = list(bands)
    batch = {"n_targets_batch": chunk, "n_targets_batch_refit": chunk}
    for held in range(runs):
        kept = [i for i in range(runs) if i != held]
        train = [np.concatenate([bands[b][i] for i in kept]) for b in names]
        test = [bands[b][held] for b in names]
        model = MultipleKernelRidgeCV(kernels="precomputed", cv=_inner_cv([timepoints] * len(kept)), random_state=0,
                                      solver_params={"alphas": DEFAULT_ALPHAS, "n_iter": n_iter, "progress_bar": False,
                                                     **batch})
        model.fit(np.stack([x @ x.T for x in train]), np.concatenate([targets[i] for i in kept]))
        cross = np.stack([t @ x.T for t, x in zip(test, train, strict=True)])
        correlation_score(targets[held], model.predict(cross))
        model.predict(cross, split=True)
    return {"seconds": time.perf_counter() - tic, "peak_gb": peak_gb(), "peak_anon_gb": anon.gb()}


def child_sklearn(paths: list[str], voxels: int, timepoints: int, runs: int) -> dict:
    """scikit-learn's RidgeCV (efficient leave-one-out over alphas, one alpha per voxel) on each band, per fold."""
    from sklearn.linear_model import RidgeCV

    from syncact.encoding.model import DEFAULT_ALPHAS

    bands = make_bands(timepoints, runs)
    targets = [np.asarray(t, dtype=np.float64) for t in _targets(paths, voxels)]
    tic = time.perf_counter()
    for held in range(runs):
        kept = [i for i in range(runs) if i != held]
        y = np.concatenate([targets[i] for i in kept])
        for band in bands.values():
            model = RidgeCV(alphas=DEFAULT_ALPHAS, fit_intercept=False, alpha_per_target=True)
            model.fit(np.concatenate([band[i] for i in kept]), y)
            model.predict(band[held])
    return {"seconds": time.perf_counter() - tic, "peak_gb": peak_gb()}


def _show(label: str, measured: dict) -> None:
    print(label, {k: v for k, v in measured.items() if k != "winner"}, flush=True)


def compare(args: argparse.Namespace, work: Path) -> dict:
    """syncact (numpy, torch) beside himalaya alone and scikit-learn, each in its own process, at the comparison shape."""
    bands = make_bands(args.compare_timepoints, args.runs)
    paths, _ = write_targets(work / "compare", bands, args.compare_voxels)
    shape = {"paths": [str(p) for p in paths], "timepoints": args.compare_timepoints, "runs": args.runs,
             "voxels": args.compare_voxels}
    out = {"timepoints": args.compare_timepoints, "voxels": args.compare_voxels}
    for label, kind, kw in (("syncact_numpy", "syncact", {"n_iter": args.n_iter, "chunk": args.chunk, "backend": "numpy"}),
                            ("himalaya_numpy", "himalaya", {"n_iter": args.n_iter, "chunk": args.chunk}),
                            ("sklearn", "sklearn", {}),
                            ("syncact_torch", "syncact", {"n_iter": args.n_iter, "chunk": args.chunk, "backend": "torch"})):
        out[label] = run_child(__file__, kind, **kw, **shape)
        out[label].pop("winner", None)
        _show(label, out[label])
    out["overhead"] = out["syncact_numpy"]["seconds"] / out["himalaya_numpy"]["seconds"]
    out["sklearn_ratio"] = out["sklearn"]["seconds"] / out["syncact_numpy"]["seconds"]
    out["torch_ratio"] = out["syncact_torch"]["seconds"] / out["syncact_numpy"]["seconds"]
    return out


def child_solvers(timepoints: int, runs: int, voxels: int, n_iter: int, widths: list[int]) -> dict:
    """fit_encoding in primal and in dual form on two bands of each total width: where the cheaper form changes."""
    from syncact.encoding import band_features, fit_encoding

    rng = np.random.default_rng(4)
    rows = []
    targets = [rng.standard_normal((timepoints, voxels)) for _ in range(runs)]
    for width in widths:
        raw = {name: [rng.standard_normal((timepoints, width // 2)) for _ in range(runs)] for name in ("a", "b")}
        bands = band_features(raw, [0])
        row = {"n_features": width, "n_train": timepoints * (runs - 1)}
        for solver in ("primal", "dual"):
            tic = time.perf_counter()
            fit_encoding(bands, targets, solver=solver, n_iter=n_iter, n_shifts=0)
            row[f"{solver}_s"] = time.perf_counter() - tic
        rows.append(row)
    return {"rows": rows}


def solvers(args: argparse.Namespace) -> dict:
    """The primal/dual sweep in a child process: total features from a sixth to four times the training samples."""
    n_train = args.compare_timepoints * (args.runs - 1)
    widths = [int(n_train * f) // 2 * 2 for f in (1 / 6, 1 / 3, 2 / 3, 1, 1.5, 2, 4)]
    out = run_child(__file__, "solvers", timepoints=args.compare_timepoints, runs=args.runs, voxels=args.compare_voxels,
                    n_iter=args.n_iter, widths=widths)
    for row in out["rows"]:
        print(f"solvers: {row['n_features']} features / {row['n_train']} samples: primal {row['primal_s']:.1f} s, "
              f"dual {row['dual_s']:.1f} s", flush=True)
    return out


def whole_brain(args: argparse.Namespace, work: Path) -> dict:
    """syncact (backend "auto") on every voxel and on a smaller share of them (memory flat in voxels)."""
    bands = make_bands(args.timepoints, args.runs)
    paths, owner = write_targets(work / "whole", bands, args.voxels)
    shape = {"paths": [str(p) for p in paths], "timepoints": args.timepoints, "runs": args.runs}
    out: dict = {"timepoints": args.timepoints, "voxels": args.voxels,
                 "n_features": sum(b[0].shape[1] for b in bands.values())}
    fewer = 2 * args.chunk
    out["fewer"] = run_child(__file__, "syncact", voxels=fewer, n_iter=args.n_iter, chunk=args.chunk, backend="auto", **shape)
    out["fewer"].pop("winner")
    out["fewer"]["voxels"] = fewer
    _show("whole brain shape, fewer voxels", out["fewer"])
    out["all"] = run_child(__file__, "syncact", voxels=args.voxels, n_iter=args.n_iter, chunk=args.chunk, backend="auto",
                           **shape)
    out["planted_band_wins"] = float((np.asarray(out["all"].pop("winner")) == owner).mean())
    _show("whole brain", out["all"])
    out["memory_ratio"] = out["all"]["peak_gb"] / out["fewer"]["peak_gb"]
    out["anon_memory_ratio"] = out["all"]["peak_anon_gb"] / out["fewer"]["peak_anon_gb"]
    out["himalaya"] = run_child(__file__, "himalaya", voxels=args.voxels, n_iter=args.n_iter, chunk=args.chunk, **shape)
    _show("whole brain, himalaya alone", out["himalaya"])
    out["overhead"] = out["all"]["seconds"] / out["himalaya"]["seconds"]
    return out


KINDS = {"syncact": child_syncact, "himalaya": child_himalaya, "sklearn": child_sklearn, "solvers": child_solvers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timepoints", type=int, default=900)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--voxels", type=int, default=29398)
    parser.add_argument("--compare-timepoints", type=int, default=300,
                        help="run length of the side-by-side comparison (himalaya alone, scikit-learn, backends)")
    parser.add_argument("--compare-voxels", type=int, default=4096)
    parser.add_argument("--n-iter", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--skip-whole-brain", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        serve_child(args.child, KINDS)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-encoding-"))
    try:
        (work / "compare").mkdir()
        (work / "whole").mkdir()
        report: dict = {"runs": args.runs, "n_iter": args.n_iter, "chunk": args.chunk, "bands": LITE0, "delays": DELAYS,
                        "python": sys.version.split()[0], "compare": compare(args, work), "solvers": solvers(args)}
        shutil.rmtree(work / "compare")
        if not args.skip_whole_brain:
            report["whole_brain"] = whole_brain(args, work)
        path = write_record(args.out, "encoding", report)
        print(f"wrote {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
