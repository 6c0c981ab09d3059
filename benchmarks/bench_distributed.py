"""Units on 1 and 2 Dask workers, and the projected time of a paper-scale study on N workers.

Run:  .venv/bin/python benchmarks/bench_distributed.py [--pairs 8] [--k 64] [--filters 1280] [--t 900]

Measured with ``syncact.units`` (each plan into a fresh store, so nothing is reused):

* ``pair`` units at paper scale: K FBN time courses x F filters x T = 900 time points (HCP 7T runs),
  the pipeline's ``pair_unit`` (Eq.1/Eq.2, circular-shift max-statistic null over every shift,
  jackknife over 10 test subjects, mismatched-movie control); ``--pairs`` of them, in-process, on a
  LocalCluster of 1 worker and of 2 workers: wall time, speed-up, peak memory of each worker process.
* ``extract`` cost: EfficientNet-Lite0 (ImageNet) on T movie frames (last_conv, 4 blocks), one unit,
  in-process.
* ``searchlight`` parts: 92 images on the 4 mm mask with 1,000 permutations, split into 4 parts, on 1
  and 2 workers.

Projection: the paper's design (10 models x 4 layers x 2 weight sets x 4 runs x 4 values of K = 1,280
pairings; 10 x 2 x 4 = 80 extractions; one searchlight per subject) from the measured unit costs,
divided over N workers (the units are independent; the driver's stages are not included).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from _harness import peak_gb, timed_plan, write_record


def _smooth(rng: np.random.Generator, t: int, m: int) -> np.ndarray:
    kernel = np.hanning(7) / np.hanning(7).sum()
    return np.apply_along_axis(np.convolve, 0, rng.standard_normal((t, m)), kernel, mode="same").astype(np.float32)


def measured_pair(**kwargs: object) -> dict:
    """A pair unit that also reports the peak memory of the process it ran in."""
    from syncact.experiment.units import pair_unit

    pairing, extra = pair_unit(**kwargs)
    return {"summary": pairing.summary(), "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def measured_part(**kwargs: object) -> dict:
    from syncact.rsa.searchlight import searchlight_part

    out = searchlight_part(**kwargs)
    return {"null_max": out["null_max"], "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def pair_plan(n_pairs: int, k: int, f: int, t: int):  # noqa: ANN201
    from syncact.config import PairingConfig
    from syncact.units import Plan

    rng = np.random.default_rng(0)
    plan = Plan()
    for i in range(n_pairs):
        fbn, filters = _smooth(rng, t, k), _smooth(rng, t, f)
        subjects = fbn[None] + 0.5 * _smooth(rng, t, k)[None] * rng.standard_normal((10, 1, 1)).astype(np.float32)
        plan.add(f"pair/{i}", measured_pair, fbn=fbn, fbn_names=[f"FBN-{j}" for j in range(k)], filters=filters,
                 filter_names=[f"filter-{j}" for j in range(f)], subjects=subjects,
                 control_filters=_smooth(rng, t, f), control_run="2", pairing=PairingConfig(hrf="glover"), seed=0,
                 tr=1.0)
    return plan


def searchlight_plan(n_images: int, n_perm: int, parts: int):  # noqa: ANN201
    from nilearn.datasets import load_mni152_brain_mask

    from syncact.rsa.searchlight import sphere_neighbourhoods
    from syncact.units import Plan

    img = load_mni152_brain_mask(resolution=4)
    mask = img.get_fdata() > 0
    spheres = sphere_neighbourhoods(mask, img.affine, 8.0)
    rng = np.random.default_rng(0)
    patterns = rng.standard_normal((n_images, int(mask.sum())))
    vectors = rng.random((4, n_images * (n_images - 1) // 2))
    bounds = np.linspace(0, spheres.n_spheres, parts + 1).astype(int)
    plan = Plan()
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        plan.add(f"searchlight/{i}", measured_part, patterns=patterns, spheres=spheres, vectors=vectors, start=int(a),
                 stop=int(b), metric="correlation", method="spearman", n_perm=n_perm, seed=0)
    return plan


def timed(plan, store: Path, workers: int | None) -> tuple[float, list[float]]:  # noqa: ANN001
    """Wall time of the plan and the peak memory each unit reported."""
    wall, done = timed_plan(plan, store, workers)
    return wall, [result["peak_gb"] for result in done.values()]


def extract_cost(t: int) -> float:
    from syncact.ann import extract_activations, get_model
    from syncact.stimulus import natural_images

    built = get_model("efficientnet_lite0")
    images, _ = natural_images(91, 224)
    frames = images[np.arange(t) % len(images)]
    tic = time.perf_counter()
    extract_activations(frames, built, ["block1", "block2", "block3", "block4", "last_conv"], cache=None)
    return time.perf_counter() - tic


def main() -> None:
    import cloudpickle

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--filters", type=int, default=1280, help="filters per layer (Lite0 last_conv: 1280)")
    parser.add_argument("--t", type=int, default=900)
    parser.add_argument("--images", type=int, default=92)
    parser.add_argument("--perm", type=int, default=1000)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    cloudpickle.register_pickle_by_value(__import__(__name__))  # workers need not import this script
    import tempfile

    rows: dict[str, object] = {"args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plan = pair_plan(args.pairs, args.k, args.filters, args.t)
        serial, _ = timed(plan, root / "p0", None)
        one, peak1 = timed(plan, root / "p1", 1)
        two, peak2 = timed(plan, root / "p2", 2)
        per_unit = serial / args.pairs
        rows["pair"] = {"serial_s": serial, "one_worker_s": one, "two_workers_s": two, "speedup_2": one / two,
                        "per_unit_s": per_unit, "worker_peak_gb_1": max(peak1), "worker_peak_gb_2": max(peak2)}
        print(f"{args.pairs} pair units (K={args.k}, F={args.filters}, T={args.t}): in-process {serial:.1f} s, "
              f"1 worker {one:.1f} s, 2 workers {two:.1f} s ({one / two:.2f}x); worker peak {max(peak2):.2f} GB")
        sl = searchlight_plan(args.images, args.perm, 4)
        sl1, speak1 = timed(sl, root / "s1", 1)
        sl2, speak2 = timed(sl, root / "s2", 2)
        rows["searchlight"] = {"one_worker_s": sl1, "two_workers_s": sl2, "speedup_2": sl1 / sl2,
                               "worker_peak_gb": max(speak2)}
        print(f"searchlight, {args.images} images, {args.perm} permutations, 4 parts: 1 worker {sl1:.1f} s, "
              f"2 workers {sl2:.1f} s ({sl1 / sl2:.2f}x); worker peak {max(speak2):.2f} GB")
    extract_s = extract_cost(args.t)
    rows["extract_s"] = extract_s
    print(f"extract unit (EfficientNet-Lite0, {args.t} frames, 5 layers, CPU): {extract_s:.1f} s")
    n_pair, n_extract = 10 * 4 * 2 * 4 * 4, 10 * 2 * 4
    total = n_pair * per_unit + n_extract * extract_s
    rows["projection"] = {"n_pair_units": n_pair, "n_extract_units": n_extract, "unit_hours": total / 3600,
                          **{f"hours_on_{n}": total / n / 3600 for n in (1, 2, 16, 64, 256)}}
    print(f"paper design: {n_pair} pair + {n_extract} extract units = {total / 3600:.1f} unit-hours (CPU; extraction "
          f"timed for Lite0, the zoo's larger CNNs cost more) -> " +
          ", ".join(f"{n} workers {total / n / 3600:.2f} h" for n in (1, 16, 64, 256)))
    print(f"driver peak {peak_gb():.2f} GB")
    print("record:", write_record(args.out, "distributed", rows))


if __name__ == "__main__":
    main()
