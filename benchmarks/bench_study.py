"""Preparation and embedding units at HCP 7T scale on 1 and 2 Dask workers, and the projection of a full study.

Run:  .venv/bin/python benchmarks/bench_study.py [--runs 8] [--t 900] [--epochs 5]

HCP 7T movie runs have ~900 volumes (TR 1 s); the paper prepares them on the MNI152 4 mm grid (29,398
voxels in the mask). The study has 184 subjects x 4 runs. Its BOLD alone is 77 GB on that mask, more
than this machine's disk can spare, so the benchmark measures the units at paper scale on a sample and
projects the rest from the measured unit costs:

* ``prepare`` units: ``--runs`` BOLD runs of T = 900 volumes on the 4 mm grid (int16 NIfTI, smooth signal
  plus noise and drift), one unit per run (:func:`syncact.brain.prepare.prepare_run`: read, clean,
  z-score, write into the Zarr store), in-process, on a LocalCluster of 1 worker and of 2 workers: wall
  time, speed-up, worker peak memory.
* ``embed`` units: the paper's K sweep (K = 64, 128, 256, 512; LT+MSA, principal subspace r = max(256, K))
  on the prepared runs (``--epochs`` epochs), one unit per K, as the pipeline plans it (one ``subspace``
  unit per r, shared by the fits: 2 subspace passes for the 4 fits) on 1 and 2 workers, and, side by side,
  as before the shared subspace (every fit computes its own: 4 passes) on 2 workers. From the measured
  costs, a 100-epoch fit on the study's 440 training runs (60 % of 184 subjects x 4) is projected.

Takes about 25 minutes on 2 cores (the subspace pass at 7,200 rows is the exact float64 Gram path).

Each plan runs into a fresh unit store, so nothing is reused.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import peak_gb, timed_plan, write_record


def write_runs(root: Path, n_runs: int, t: int) -> None:
    """BIDS runs on the MNI152 4 mm grid: 8 smooth networks + AR noise + drift, int16 like scanner output."""
    import nibabel as nib
    from nilearn.datasets import load_mni152_brain_mask

    mask_img = load_mni152_brain_mask(resolution=4)
    mask = np.asarray(mask_img.dataobj) > 0
    rng = np.random.default_rng(0)
    n_vox = int(mask.sum())
    maps = rng.standard_normal((8, n_vox)).astype(np.float32)
    for i in range(n_runs):
        subject, run = f"{i // 2 + 1:02d}", str(i % 2 + 1)
        kernel = np.hanning(9) / np.hanning(9).sum()
        courses = np.apply_along_axis(np.convolve, 0, rng.standard_normal((t, 8)), kernel, mode="same").astype(np.float32)
        signal = courses @ maps + rng.standard_normal((t, n_vox), dtype=np.float32) + np.linspace(0, 3, t, dtype=np.float32)[:, None]
        volume = np.zeros((*mask.shape, t), dtype=np.int16)
        volume[mask] = (1000 + 20 * signal).T.astype(np.int16)
        img = nib.Nifti1Image(volume, mask_img.affine)
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = 1.0
        path = root / f"sub-{subject}" / "func" / f"sub-{subject}_task-movie_run-{run}_bold.nii"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(img, path)


def measured_prepare(**kwargs: object) -> dict:
    from syncact.brain.prepare import prepare_run

    tic = time.perf_counter()
    out = prepare_run(**kwargs)
    return {**out, "seconds": time.perf_counter() - tic, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def measured_subspace(**kwargs: object) -> dict:
    from syncact.analysis import shared_subspace

    tic = time.perf_counter()
    out = shared_subspace(**kwargs)
    return {**out, "seconds": np.array(time.perf_counter() - tic),
            "peak_gb": np.array(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)}


def measured_fit(**kwargs: object) -> dict:
    from syncact.analysis import fit_networks

    fit = fit_networks(**kwargs)
    epochs = float(fit.model.history_.seconds.sum())
    return {"seconds": fit.seconds, "epoch_s": epochs, "subspace_s": fit.seconds - epochs,
            "epochs": len(fit.model.history_.train_loss), "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def main() -> None:
    import cloudpickle

    from syncact.brain import scan_dataset
    from syncact.brain.prepare import PreparedStore, begin_store
    from syncact.units import Plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--t", type=int, default=900)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    cloudpickle.register_pickle_by_value(__import__(__name__))  # workers need not import this script
    rows: dict[str, object] = {"args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tic = time.perf_counter()
        write_runs(root / "bids", args.runs, args.t)
        print(f"wrote {args.runs} runs of {args.t} volumes in {time.perf_counter() - tic:.0f} s")
        info = scan_dataset(root / "bids")
        walls, peaks, unit_s = {}, {}, []
        for label, workers in (("serial", None), ("one_worker", 1), ("two_workers", 2)):
            preparation, todo = begin_store(info, root / f"{label}.zarr")
            plan = Plan()
            for run in todo:
                plan.add(f"prepare/{run.key}", measured_prepare, run=run, preparation=preparation)
            walls[label], done = timed_plan(plan, root / f"units-{label}", workers)
            peaks[label] = max(d["peak_gb"] for d in done.values())
            unit_s += [d["seconds"] for d in done.values()] if workers is None else []
        per_run = float(np.mean(unit_s))
        rows["prepare"] = {**{f"{k}_s": v for k, v in walls.items()}, "speedup_2": walls["one_worker"] / walls["two_workers"],
                           "per_unit_s": per_run, "worker_peak_gb": peaks["two_workers"]}
        print(f"{args.runs} prepare units ({args.t} volumes, 29,398 voxels): in-process {walls['serial']:.1f} s, 1 worker "
              f"{walls['one_worker']:.1f} s, 2 workers {walls['two_workers']:.1f} s ({walls['one_worker'] / walls['two_workers']:.2f}x); "
              f"{per_run:.1f} s per run, worker peak {peaks['two_workers']:.2f} GB")

        store = PreparedStore(root / "serial.zarr")
        train = store.runset(store.segments())
        ks = (64, 128, 256, 512)

        def sweep_plan(shared: bool) -> Plan:
            plan = Plan()
            for k in ks:  # the subspace must hold K directions: r = max(256, K)
                params = {"temporal": "msa", "n_heads": 4, "n_epochs": args.epochs, "n_components": max(256, k), "seed": 0}
                sub = plan.add(f"subspace/r{max(256, k)}", measured_subspace, train=train, n_components=max(256, k),
                               seed=0) if shared else None
                plan.add(f"embed/K{k}", measured_fit, method="sync-act", n_networks=k, params=params, train=train,
                         subspace=sub)
            return plan

        runs_of = {"one_worker": (True, 1), "two_workers": (True, 2), "own_subspace_two_workers": (False, 2)}
        fits = {label: timed_plan(sweep_plan(shared), root / f"fit-{label}", workers) for label, (shared, workers) in runs_of.items()}
        walls = {label: wall for label, (wall, _) in fits.items()}
        done1 = fits["one_worker"][1]
        fit = {k: done1[f"embed/K{k}"] for k in ks}
        subspace_s = {r: float(done1[f"subspace/r{r}"]["seconds"]) for r in (256, 512)}
        rows["embed"] = {**{f"{k}_s": v for k, v in walls.items()}, "speedup_2": walls["one_worker"] / walls["two_workers"],
                         "shared_vs_own_2": walls["own_subspace_two_workers"] / walls["two_workers"], "fits": fit,
                         "subspace_s": subspace_s,
                         "worker_peak_gb": max(float(d["peak_gb"]) for _, done in fits.values() for d in done.values())}
        print(f"K sweep (64..512, LT+MSA, r=max(256,K), {len(train)} runs, {args.epochs} epochs), shared subspace (2 passes): "
              f"1 worker {walls['one_worker']:.1f} s, 2 workers {walls['two_workers']:.1f} s "
              f"({walls['one_worker'] / walls['two_workers']:.2f}x); every fit its own subspace (4 passes), 2 workers "
              f"{walls['own_subspace_two_workers']:.1f} s ({rows['embed']['shared_vs_own_2']:.2f}x slower); "
              f"worker peak {rows['embed']['worker_peak_gb']:.2f} GB")
        print(f"  subspace pass: r=256 {subspace_s[256]:.1f} s, r=512 {subspace_s[512]:.1f} s; "
              + ", ".join(f"K={k} {args.epochs} epochs {fit[k]['epoch_s']:.1f} s" for k in ks))
    n_prepare, n_train, epochs = 184 * 4, round(0.6 * 184) * 4, 100
    prepare_h = n_prepare * per_run / 3600
    # training is linear in runs x epochs; the subspace pass is extrapolated linearly in runs (at the study's
    # 396,000 rows it takes the randomised path, cheaper per row than the exact one measured here)
    fit_h = {k: (f["epoch_s"] / args.epochs * epochs + subspace_s[max(256, k)]) * n_train / len(train) / 3600
             for k, f in fit.items()}
    rows["projection"] = {"n_prepare_units": n_prepare, "prepare_unit_hours": prepare_h,
                          "fit_hours_100_epochs_441_runs": fit_h,
                          **{f"prepare_hours_on_{n}": prepare_h / n for n in (1, 16, 64)}}
    print(f"HCP study: {n_prepare} prepare units = {prepare_h:.1f} unit-hours -> 16 workers {prepare_h / 16:.2f} h, "
          f"64 workers {prepare_h / 64:.2f} h; one 100-epoch fit on {n_train} training runs (CPU, 1 thread): "
          + ", ".join(f"K={k} {h:.1f} h" for k, h in fit_h.items()) + " (the 4 K fits run side by side as units)")
    print(f"driver peak {peak_gb():.2f} GB")
    print("record:", write_record(args.out, "study", rows))


if __name__ == "__main__":
    main()
