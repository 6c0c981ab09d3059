"""Searchlight RSA benchmark: the 4 mm MNI152 brain mask (29,398 voxels), 16 and 92 images, vs rsatoolbox.

Run:  .venv/bin/python benchmarks/bench_searchlight.py [--images 16 92] [--radius 8] [--sample 1500]

Both libraries get the same spheres (rsatoolbox's ``get_volume_searchlight`` with the radius in voxels,
cut at the mask boundary; handed to syncact with ``Spheres.from_lists``) and the same patterns, and
compute each sphere's correlation-distance RDM and its Spearman correlation with 4 layer RDMs:

* rsatoolbox: ``get_searchlight_RDMs`` + ``evaluate_models_searchlight`` (with ``eval_fixed``), timed on
  ``--sample`` spheres and scaled to all of them (the full run takes many minutes); the values on the
  sample are compared with syncact's (max |difference|).
* syncact: ``searchlight_rsa`` on all spheres without permutations (the same work), then with 1,000
  label permutations and the max statistic (which rsatoolbox does not offer), and syncact's own
  mm sphere builder against rsatoolbox's.

Each measurement runs in its own child process (peak memory = its maximum resident set).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _harness import peak_gb, run_child, serve_child, write_record

N_LAYERS = 4


def _data(n_images: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from nilearn.datasets import load_mni152_brain_mask

    img = load_mni152_brain_mask(resolution=4)
    mask = img.get_fdata() > 0
    rng = np.random.default_rng(0)
    volume = np.zeros((n_images, mask.size))
    volume[:, mask.ravel()] = rng.standard_normal((n_images, int(mask.sum())))
    models = rng.random((N_LAYERS, n_images * (n_images - 1) // 2))
    return mask, img.affine, volume, models


def _rsatoolbox_spheres(mask: np.ndarray, radius_vox: float) -> tuple[np.ndarray, list]:
    import contextlib
    import io

    from rsatoolbox.util.searchlight import get_volume_searchlight

    with contextlib.redirect_stdout(io.StringIO()):
        return get_volume_searchlight(mask, radius=radius_vox, threshold=0.5, truncate_at_boundary=True)


def child_rsatoolbox(n_images: int, radius_vox: float, sample: int) -> dict:
    import warnings

    from rsatoolbox.inference import eval_fixed
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.util.searchlight import evaluate_models_searchlight, get_searchlight_RDMs

    mask, _affine, volume, models = _data(n_images)
    tic = time.perf_counter()
    centers, neighbours = _rsatoolbox_spheres(mask, radius_vox)
    spheres_s = time.perf_counter() - tic
    pick = np.linspace(0, len(centers) - 1, sample).astype(int)
    warnings.filterwarnings("ignore")
    tic = time.perf_counter()
    rdms = get_searchlight_RDMs(volume, centers[pick], [neighbours[i] for i in pick], np.arange(n_images), verbose=False)
    rdm_s = time.perf_counter() - tic
    tic = time.perf_counter()
    evaluations = evaluate_models_searchlight(rdms, [ModelFixed(f"l{i}", RDMs(m[None])) for i, m in enumerate(models)],
                                              eval_fixed, method="spearman")
    eval_s = time.perf_counter() - tic
    values = np.array([e.evaluations for e in evaluations]).reshape(len(pick), N_LAYERS)
    scale = len(centers) / sample
    return {"n_spheres": len(centers), "spheres_s": spheres_s, "rdm_s": rdm_s * scale, "eval_s": eval_s * scale,
            "total_s": (rdm_s + eval_s) * scale, "sample": sample, "values": values.tolist(), "pick": pick.tolist(),
            "peak_gb": peak_gb()}


def child_syncact(n_images: int, radius_vox: float, n_perm: int, memory_mb: float) -> dict:
    from syncact.rsa.searchlight import Spheres, searchlight_rsa, sphere_neighbourhoods

    mask, affine, volume, models = _data(n_images)
    centers, neighbours = _rsatoolbox_spheres(mask, radius_vox)
    spheres = Spheres.from_lists(centers, neighbours, volume.shape[1])
    tic = time.perf_counter()
    maps = searchlight_rsa(volume, spheres, models, n_perm=n_perm, memory_mb=memory_mb)
    total_s = time.perf_counter() - tic
    tic = time.perf_counter()
    own = sphere_neighbourhoods(mask, affine, radius_vox * 4 - 1e-3, min_voxels=1)
    own_spheres_s = time.perf_counter() - tic
    return {"n_spheres": spheres.n_spheres, "total_s": total_s, "own_spheres_s": own_spheres_s,
            "own_n_spheres": own.n_spheres, "mean_size": float(spheres.sizes.mean()),
            "similarity": maps.similarity.T.tolist(), "peak_gb": peak_gb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[16, 92])
    parser.add_argument("--radius", type=float, default=8.0, help="sphere radius in mm (voxels are 4 mm)")
    parser.add_argument("--sample", type=int, default=1500, help="spheres rsatoolbox is timed on")
    parser.add_argument("--perm", type=int, default=1000)
    parser.add_argument("--memory-mb", type=float, default=512)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        serve_child(args.child, {"rsatoolbox": child_rsatoolbox, "syncact": child_syncact})
        return
    radius_vox = args.radius / 4
    rows = []
    for n in args.images:
        ref = run_child(__file__, "rsatoolbox", n_images=n, radius_vox=radius_vox, sample=args.sample)
        same = run_child(__file__, "syncact", n_images=n, radius_vox=radius_vox, n_perm=0, memory_mb=args.memory_mb)
        perm = run_child(__file__, "syncact", n_images=n, radius_vox=radius_vox, n_perm=args.perm, memory_mb=args.memory_mb)
        ours = np.asarray(same.pop("similarity"))[ref.pop("pick")]
        perm.pop("similarity")
        diff = float(np.abs(ours - np.asarray(ref.pop("values"))).max())
        row = {"n_images": n, "rsatoolbox": ref, "syncact": same, "syncact_perm": perm, "max_abs_diff": diff,
               "speedup": ref["total_s"] / same["total_s"]}
        rows.append(row)
        print(f"{n} images, {same['n_spheres']} spheres of {same['mean_size']:.1f} voxels (radius {args.radius} mm):")
        print(f"  rsatoolbox RDMs + Spearman, 4 layers: {ref['total_s']:.1f} s (scaled from {args.sample} spheres; "
              f"RDMs {ref['rdm_s']:.1f} s, evaluation {ref['eval_s']:.1f} s), peak {ref['peak_gb']:.2f} GB; "
              f"its sphere search {ref['spheres_s']:.1f} s")
        print(f"  syncact, same work: {same['total_s']:.2f} s, peak {same['peak_gb']:.2f} GB -> {row['speedup']:.0f}x; "
              f"max |difference| {diff:.1e}")
        print(f"  syncact with {args.perm} permutations + max statistic: {perm['total_s']:.1f} s, peak {perm['peak_gb']:.2f} GB")
        print(f"  syncact sphere builder (mm, KD-tree): {same['own_spheres_s']:.2f} s for {same['own_n_spheres']} spheres")
    print("record:", write_record(args.out, "searchlight", {"args": vars(args), "rows": rows}))


if __name__ == "__main__":
    main()
