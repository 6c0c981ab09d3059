"""Layer-to-region mapping on the simulated event-related experiment: natural vs residual vs synthesised images.

Run:  .venv/bin/python benchmarks/bench_rsa_mapping.py [--images 16] [--steps 150] [--amplitude 3]

Four regions of the 4 mm MNI152 brain encode EfficientNet-Lite0's block1..block4 (ImageNet weights,
offline); each voxel in a region is a random linear read-out of its layer's activations to the images
(``syncact.simulate.simulate_event_related``). For each image set the experiment is simulated (2 runs,
each image shown 3 times per run), image patterns are estimated with nilearn's FirstLevelModel (LSA,
t maps), and searchlight RSA (12 mm spheres, Spearman, max-statistic permutations) maps every layer:

* ``natural``: 16 photographs from scikit-image, layer RDMs as they are;
* ``residual``: the same experiment, each layer's RDM regressed on the others' (the residual method);
* ``synthesized``: images synthesised for orthogonal block1..block4 RDMs (``syncact.rsa.synthesis``),
  a new experiment with them.

Reported per set: mean |r| between the layers' RDMs, per region the share of its spheres won by its
layer (winner-take-all over significant layers) and the precision of its layer's significant map,
and the mean Dice overlap between layers' significant maps.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _harness import peak_gb, write_record

LAYERS = ["block1", "block2", "block3", "block4"]


def run_set(label: str, features: dict, names: list, models: object, args: argparse.Namespace) -> dict:
    from syncact.analysis import layer_mapping, overlap_summary
    from syncact.brain.patterns import image_patterns
    from syncact.rsa import searchlight_rsa, sphere_neighbourhoods
    from syncact.simulate import DEFAULT_REGIONS, PlantedRegion, simulate_event_related

    regions = [PlantedRegion(r.name, r.layer, r.center_mm, args.region_radius) for r in DEFAULT_REGIONS]
    tic = time.perf_counter()
    data = simulate_event_related(features, names, regions=regions, amplitude=args.amplitude, seed=args.seed)
    patterns = image_patterns(data.run_imgs, data.events, data.t_r, mask_img=data.mask_img, images=names)
    mask = np.asarray(data.mask_img.dataobj) > 0
    spheres = sphere_neighbourhoods(mask, data.mask_img.affine, args.radius)
    maps = searchlight_rsa(patterns.patterns, spheres, models, n_perm=args.perm, seed=args.seed)
    table = layer_mapping(maps, data.region_labels, [(r.name, r.layer) for r in regions], alpha=args.alpha)
    summary = overlap_summary(maps, args.alpha)
    print(f"\n{label}: mean |r| between layer RDMs {models.mean_abs_offdiagonal():.3f} "
          f"({time.perf_counter() - tic:.0f} s simulate + GLM + searchlight)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(summary)
    return {"set": label, "mean_abs_r": models.mean_abs_offdiagonal(), "regions": table.to_dict("records"), **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--steps", type=int, default=150, help="synthesis steps")
    parser.add_argument("--size", type=int, default=128, help="image size and network input in pixels")
    parser.add_argument("--amplitude", type=float, default=3.0)
    parser.add_argument("--radius", type=float, default=12.0, help="searchlight radius (mm)")
    parser.add_argument("--region-radius", type=float, default=15.0)
    parser.add_argument("--perm", type=int, default=500)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from syncact.ann import get_model
    from syncact.ann.probe import layer_patterns
    from syncact.rsa import layer_rdms, residual_rdms
    from syncact.rsa.synthesis import synthesize
    from syncact.stimulus import natural_images

    # the network sees every image set at the size the synthesis optimised for (orthogonality is not scale-free)
    built = get_model("efficientnet_lite0").with_input_size(args.size)
    images, names = natural_images(args.images, args.size)
    rows = []
    features = {k: v.astype(np.float64) for k, v in layer_patterns(images, built, LAYERS).items()}
    natural = layer_rdms(features)
    rows.append(run_set("natural", features, names, natural, args))
    residual = residual_rdms(natural)
    print("residual R^2 per layer:", np.round(residual.r_squared, 3))
    rows.append(run_set("residual", features, names, residual, args))
    tic = time.perf_counter()
    synth = synthesize(built, LAYERS, n_images=args.images, size=args.size, input_size=args.size, steps=args.steps,
                       seed=args.seed, progress=False)
    synth_s = time.perf_counter() - tic
    print(f"\nsynthesis: {args.steps} steps in {synth_s:.0f} s")
    syn_names = [f"synth-{i:02d}" for i in range(args.images)]
    syn_features = {k: v.astype(np.float64) for k, v in layer_patterns(synth.images, built, LAYERS).items()}
    syn_rdms = layer_rdms(syn_features)
    rows.append(run_set("synthesized", syn_features, syn_names, syn_rdms, args))
    print(f"\npeak memory {peak_gb():.2f} GB")
    print("record:", write_record(args.out, "rsa-mapping", {"args": vars(args), "synthesis_s": synth_s, "rows": rows}))


if __name__ == "__main__":
    main()
