"""Surface searchlight benchmark: geodesic discs on the HCP fsLR 32k cortex (59,412 grayordinate vertices), their
accuracy against exact geodesics, and searchlight RSA over all of them.

Run:  .venv/bin/python benchmarks/bench_surface_searchlight.py [--images 40] [--radius 6 8 10] [--perm 1000]

1. Accuracy: on the fsLR sphere (radius 100 mm) the exact geodesic distance is the great-circle distance. For 300
   random centres per radius, the share of the exact geodesic disc a graph disc holds (coverage) and the largest
   great-circle distance of its members, for mesh edges alone and for edges plus the diagonals of adjacent
   triangles (syncact's :func:`~syncact.rsa.surface.mesh_graph`).
2. Cost: building the discs of both hemispheres' grayordinates on the midthickness, per radius (seconds, disc sizes);
   searchlight RSA of ``--images`` random patterns against 4 layer RDMs on all discs of the middle radius, without and
   with ``--perm`` label permutations (seconds, peak memory), each in its own child process; and the largest
   difference between the searchlight's RDMs and a direct per-disc computation (scipy's pdist) on 500 discs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _harness import peak_gb, run_child, serve_child, write_record

N_LAYERS = 4


def _cortex_models():  # noqa: ANN202 - a nibabel BrainModelAxis
    from nibabel.cifti2 import cifti2_axes as ax

    from syncact.brain.cifti import standard_vertices

    vertices = standard_vertices()
    return (ax.BrainModelAxis.from_surface(vertices["CIFTI_STRUCTURE_CORTEX_LEFT"], 32492, name="CortexLeft")
            + ax.BrainModelAxis.from_surface(vertices["CIFTI_STRUCTURE_CORTEX_RIGHT"], 32492, name="CortexRight"))


def child_accuracy(radii: list[float], n_centres: int) -> dict:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    from syncact.brain.cifti import fslr_surface
    from syncact.rsa.surface import mesh_graph

    coords, faces = fslr_surface("left", "sphere")
    radius = float(np.linalg.norm(coords, axis=1).mean())
    unit = coords / np.linalg.norm(coords, axis=1, keepdims=True)
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    lengths = np.linalg.norm(coords[edges[:, 0]] - coords[edges[:, 1]], axis=1)
    plain = sp.coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(len(coords),) * 2)
    graphs = {"edges": (plain + plain.T).tocsr(), "edges_and_diagonals": mesh_graph(coords, faces)}
    centres = np.random.default_rng(0).choice(len(coords), n_centres, replace=False)
    great = radius * np.arccos(np.clip(unit[centres] @ unit.T, -1, 1))
    rows = []
    for r in radii:
        for name, graph in graphs.items():
            within = dijkstra(graph, indices=centres, limit=r + 1e-9) <= r
            exact = great <= r
            cover = (within & exact).sum(axis=1) / exact.sum(axis=1)
            beyond = np.where(within, great, 0).max(axis=1)
            rows.append({"radius_mm": r, "graph": name, "coverage_median": float(np.median(cover)),
                         "coverage_min": float(cover.min()), "max_member_distance_mm": float(beyond.max())})
    return {"sphere_radius_mm": radius, "rows": rows}


def child_discs(radius: float) -> dict:
    from syncact.rsa.surface import grayordinate_neighbourhoods

    models = _cortex_models()
    tic = time.perf_counter()
    spheres = grayordinate_neighbourhoods(models, radius)
    seconds = time.perf_counter() - tic
    sizes = spheres.sizes
    return {"radius_mm": radius, "seconds": seconds, "n_grayordinates": int(models.size), "n_discs": spheres.n_spheres,
            "size_median": float(np.median(sizes)), "size_p5": float(np.percentile(sizes, 5)),
            "size_p95": float(np.percentile(sizes, 95)), "peak_gb": peak_gb()}


def child_rsa(radius: float, n_images: int, n_perm: int) -> dict:
    from scipy.spatial.distance import pdist

    from syncact.rsa.searchlight import searchlight_rdms, searchlight_rsa
    from syncact.rsa.surface import grayordinate_neighbourhoods

    models = _cortex_models()
    spheres = grayordinate_neighbourhoods(models, radius)
    rng = np.random.default_rng(0)
    patterns = rng.standard_normal((n_images, models.size))
    layer_rdms = rng.random((N_LAYERS, n_images * (n_images - 1) // 2))
    tic = time.perf_counter()
    maps = searchlight_rsa(patterns, spheres, layer_rdms, n_perm=n_perm, seed=0)
    seconds = time.perf_counter() - tic
    out = {"radius_mm": radius, "n_images": n_images, "n_perm": n_perm, "n_discs": spheres.n_spheres,
           "seconds": seconds, "discs_per_s": spheres.n_spheres / seconds, "peak_gb": peak_gb(),
           "finite": bool(np.isfinite(maps.similarity).all())}
    if n_perm == 0:
        sample = rng.choice(spheres.n_spheres, 500, replace=False)
        rdms = searchlight_rdms(patterns, spheres)
        out["max_abs_diff_vs_pdist"] = float(max(np.abs(rdms[s] - pdist(patterns[:, spheres.members(s)], "correlation")).max()
                                                 for s in sample))
    return out


KINDS = {"accuracy": child_accuracy, "discs": child_discs, "rsa": child_rsa}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--radius", type=float, nargs="+", default=[6.0, 8.0, 10.0])
    parser.add_argument("--perm", type=int, default=1000)
    parser.add_argument("--centres", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        serve_child(args.child, KINDS)
        return
    report: dict = {"accuracy": run_child(__file__, "accuracy", radii=args.radius, n_centres=args.centres)}
    for row in report["accuracy"]["rows"]:
        print("accuracy", row, flush=True)
    report["discs"] = [run_child(__file__, "discs", radius=r) for r in args.radius]
    for row in report["discs"]:
        print("discs", row, flush=True)
    middle = args.radius[len(args.radius) // 2]
    report["rsa"] = [run_child(__file__, "rsa", radius=middle, n_images=args.images, n_perm=p) for p in (0, args.perm)]
    for row in report["rsa"]:
        print("rsa", row, flush=True)
    print("wrote", write_record(args.out, "surface-searchlight", report))


if __name__ == "__main__":
    main()
