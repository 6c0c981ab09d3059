"""Layer-to-region mapping on the simulated event-related experiment: natural vs residual vs synthesised images.

Run:  .venv/bin/python benchmarks/bench_rsa_mapping.py [--images 32] [--steps 150] [--amplitude 3]

The measurement is ``syncact.demo.run_rsa_demo`` (what ``syncact demo-rsa`` runs) with the settings given
here, timed, into a temporary folder. Four regions of the 4 mm MNI152 brain encode EfficientNet-Lite0's
block1..block4 (ImageNet weights, offline); each region voxel is a random linear read-out of its layer's
activations. For each image set the experiment is simulated (2 runs, each image 3 times per run), image
patterns estimated with nilearn's FirstLevelModel (LSA, t maps), and searchlight RSA (Spearman,
max-statistic permutations) maps every layer:

* ``natural``: photographs from scikit-image, layer RDMs as they are;
* ``residual``: the same experiment, each layer's RDM regressed on the others' (the residual method);
* ``synthesized``: images synthesised for orthogonal block1..block4 RDMs, a new experiment with them.

Reported per set: mean |r| between the mapped layer RDMs, the mean Dice overlap of the layers'
significant maps and, per region, the share of its spheres won by its layer and the precision of its
layer's significant map.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from _harness import peak_gb, write_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--steps", type=int, default=150, help="synthesis steps")
    parser.add_argument("--size", type=int, default=128, help="image size and network input in pixels")
    parser.add_argument("--amplitude", type=float, default=3.0)
    parser.add_argument("--radius", type=float, default=12.0, help="searchlight radius (mm); regions are 3 mm wider")
    parser.add_argument("--perm", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from syncact.demo import run_rsa_demo

    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        result = run_rsa_demo(Path(tmp) / "rsa", n_images=args.images, size=args.size, steps=args.steps,
                              n_perm=args.perm, radius_mm=args.radius, amplitude=args.amplitude, seed=args.seed,
                              progress=False)
        wall = time.perf_counter() - tic
    fmt = {"index": False, "float_format": lambda v: f"{v:.3f}"}
    print(result.overlap.to_string(**fmt))
    print()
    print(result.mapping.to_string(**fmt))
    print(f"\n{wall:.0f} s, peak memory {peak_gb():.2f} GB")
    record = {"args": vars(args), "wall_s": wall, "overlap": result.overlap.to_dict("records"),
              "mapping": result.mapping.to_dict("records")}
    print("record:", write_record(args.out, "rsa-mapping", record))


if __name__ == "__main__":
    main()
