"""Preparation benchmark: volumes/s and peak memory of `prepare_dataset` against NiftiMasker.

Run:  .venv/bin/python benchmarks/bench_prepare.py [--subjects 4 12] [--runs 2] [--timepoints 900]

An HCP-shaped simulated dataset (runs of ``--timepoints`` volumes on nilearn's MNI152 grid at 4 mm,
int16 .nii.gz as scanners write them) is prepared by syncact for each subject count in its own process,
then the same runs of the largest count are loaded through nilearn's NiftiMasker (same mask, detrend,
z-score) into one list of arrays, which is what a load-everything script does. Peak memory is each
process's maximum resident set size; throughput is volumes per second of wall time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import peak_gb, run_child, serve_child, write_record


def make_runs(root: Path, n_subjects: int, n_runs: int, n_timepoints: int) -> list[Path]:
    """BIDS runs of smooth random signal (int16) on the MNI152 4 mm grid."""
    import nibabel as nib
    from nilearn.datasets import load_mni152_brain_mask

    mask = load_mni152_brain_mask(resolution=4)
    rng = np.random.default_rng(0)
    shared = rng.standard_normal((n_timepoints, 8))
    paths = []
    for s in range(1, n_subjects + 1):
        for r in range(1, n_runs + 1):
            path = root / f"sub-{s:02d}" / "func" / f"sub-{s:02d}_task-movie_run-{r}_bold.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            data = np.empty((*mask.shape, n_timepoints), dtype=np.int16)
            loadings = rng.standard_normal((*mask.shape, 8)).astype(np.float32)
            for t0 in range(0, n_timepoints, 100):  # bounded memory while writing
                block = loadings @ shared[t0 : t0 + 100].T.astype(np.float32)
                block += 3 * rng.standard_normal(block.shape, dtype=np.float32)
                data[..., t0 : t0 + 100] = np.round(1000 + 20 * block).astype(np.int16)
            img = nib.Nifti1Image(data, mask.affine)
            img.header.set_xyzt_units("mm", "sec")
            img.header["pixdim"][4] = 1.0
            nib.save(img, path)
            path.with_name(path.name.replace(".nii.gz", ".json")).write_text('{"RepetitionTime": 1.0}')
            paths.append(path)
    (root / "dataset_description.json").write_text('{"Name": "bench", "BIDSVersion": "1.8.0"}')
    return paths


def child_syncact(root: str, n_subjects: int, out: str) -> dict:
    import nilearn.datasets  # noqa: F401  (imported before the clock starts, as in the NiftiMasker child)

    from syncact.brain import prepare_dataset, scan_dataset

    info = scan_dataset(root)
    info.runs = [r for r in info.runs if int(r.subject) <= n_subjects]
    t = time.perf_counter()
    store = prepare_dataset(info, out, high_pass=0.01)
    wall = time.perf_counter() - t
    volumes = sum(r["n_timepoints"] for r in store.runs)
    return {"wall_s": wall, "volumes": volumes, "volumes_per_s": volumes / wall, "peak_gb": peak_gb(),
            "n_features": store.n_features}


def child_niftimasker(root: str, n_subjects: int) -> dict:
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.maskers import NiftiMasker

    paths = sorted(Path(root).glob("sub-*/func/*_bold.nii.gz"))
    paths = [p for p in paths if int(p.name[4:6]) <= n_subjects]
    masker = NiftiMasker(mask_img=load_mni152_brain_mask(resolution=4), detrend=True, standardize="zscore_sample",
                         high_pass=0.01, t_r=1.0, clean_args={"filter": "cosine"})
    t = time.perf_counter()
    arrays = [masker.fit_transform(p).astype(np.float32) for p in paths]
    wall = time.perf_counter() - t
    volumes = sum(a.shape[0] for a in arrays)
    return {"wall_s": wall, "volumes": volumes, "volumes_per_s": volumes / wall, "peak_gb": peak_gb(),
            "held_gb": sum(a.nbytes for a in arrays) / 1e9}




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, nargs="+", default=[4, 12])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--timepoints", type=int, default=900)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        serve_child(args.child, {"syncact": child_syncact, "niftimasker": child_niftimasker})
        return
    report: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M"), "runs_per_subject": args.runs,
                                 "timepoints": args.timepoints}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bids"
        t = time.perf_counter()
        make_runs(root, max(args.subjects), args.runs, args.timepoints)
        print(f"wrote {max(args.subjects)} subjects x {args.runs} runs x {args.timepoints} volumes (MNI152 4 mm, int16 "
              f".nii.gz) in {time.perf_counter() - t:.0f} s")
        ours = {}
        for n in args.subjects:
            ours[n] = run_child(__file__, "syncact", root=str(root), n_subjects=n, out=str(Path(tmp) / f"prep-{n}.zarr"))
            print(f"  syncact prepare, {n:3d} subjects: {ours[n]['volumes_per_s']:7.1f} volumes/s, peak {ours[n]['peak_gb']:.2f} GB")
        n = max(args.subjects)
        ref = run_child(__file__, "niftimasker", root=str(root), n_subjects=n)
        print(f"  NiftiMasker into arrays, {n:3d} subjects: {ref['volumes_per_s']:7.1f} volumes/s, peak {ref['peak_gb']:.2f} GB "
              f"(arrays held: {ref['held_gb']:.2f} GB)")
        print(f"  -> throughput ratio (NiftiMasker / syncact) {ref['volumes_per_s'] / ours[n]['volumes_per_s']:.2f}; "
              f"syncact peak memory {ours[min(args.subjects)]['peak_gb']:.2f} GB at {min(args.subjects)} subjects, "
              f"{ours[n]['peak_gb']:.2f} GB at {n}")
        report.update({"syncact": ours, "niftimasker": ref})
    print(f"wrote {write_record(args.out, 'prepare', report)}")


if __name__ == "__main__":
    main()
