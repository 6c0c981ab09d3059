"""`syncact demo`: the embedded dataset through the whole pipeline; `syncact demo-rsa`: the second seed.

The dataset's stimulus-driven networks are planted with EfficientNet-Lite2 filters; the demo analyses
EfficientNet-Lite0 (ImageNet weights) and ResNet-18 (random weights, a control that needs no download),
so finding the planted pairs is a test, not an identity.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from syncact import _io
from syncact.config import load_config
from syncact.exceptions import ConfigError
from syncact.experiment import ExperimentResult, run_experiment
from syncact.simulate import make_dataset

logger = logging.getLogger(__name__)

DEMO_CONFIG = """\
name = "demo"
seed = {seed}

{data}
{movies}
[frames]
size = [256, 180]
policy = "last"

[[models]]
name = "efficientnet_lite0"
weights = "imagenet"
layers = ["block3", "last_conv"]

[[models]]
name = "resnet18"
weights = "random"
layers = ["last_conv"]

[embedding]
n_networks = {n_networks}
temporal = "msa"
n_epochs = {n_epochs}
identify = "{identify}"

[pairing]
alpha = 0.05
# The planted BOLD lags the movie by the haemodynamic response; the paper pairs raw filter activations
# ("none"), with which no driven network stands out on this dataset (see docs/statistics.md).
hrf = "glover"

[annotation]
{describers}
# The dataset writes each planted map under the term a meta-analysis would give it (planted truth).
term_maps = "data/derivatives/ground_truth/term_maps"

[encoding]
# Voxelwise and FBN encoding beside the pairing: banded ridge, one band per layer, delays covering 2-8 s
# (docs/encoding.md). Every setting is the default.
"""


SPACE_SETTINGS = {
    "MNI152": {"data": '[data]\nbids = "data"\ntask = "movie"\nmask = "mni152"\n',
               "describers": 'atlases = ["dosenbach_2010", "seitzman_2018"]'},
    # the HCP layout: <subject>/MNINonLinear/Results/tfMRI_MOVIE<r>_7T_AP/*_Atlas_MSMAll_hp2000_clean.dtseries.nii
    "fsLR32k": {"data": '[data]\nbids = "data"\nlayout = "hcp"\nhcp_data = "cifti"\n',
                "describers": 'atlases = []  # volume coordinate atlases: none on grayordinates\nparcellations = ["yeo7", "mmp"]'},
}
"""What the demo config says per space: where the data are, and what describes the FBNs."""


def run_demo(out: Path, *, n_subjects: int = 10, n_timepoints: int = 200, seed: int = 0, quick: bool = False,
             identify: str = "ica", space: str = "MNI152", progress: bool = True) -> ExperimentResult:
    """Generate (or reuse) the embedded dataset under ``out/data``, write ``out/experiment.toml`` and run it.

    Parameters
    ----------
    out : Path
        Run directory.
    n_subjects, n_timepoints, seed : int
        Size and seed of the simulated dataset.
    quick : bool, default=False
        Tiny sizes (5 subjects, 60 volumes, few epochs) for a smoke test.
    identify : {"ica", "none"}, default="ica"
        ``[embedding] identify``: identified FBNs, or the paper's raw weights.
    space : {"MNI152", "fsLR32k"}, default="MNI152"
        The dataset's space: the MNI152 4 mm volume (BIDS), or the fsLR 32k cortical grayordinates (HCP layout,
        CIFTI; networks in real Yeo networks and Glasser areas, described by the HCP parcellations).
    progress : bool, default=True

    Returns
    -------
    ExperimentResult
    """
    config = prepare_demo(out, n_subjects=n_subjects, n_timepoints=n_timepoints, seed=seed, quick=quick,
                          identify=identify, space=space, progress=progress)
    return run_experiment(load_config(config), out, progress=progress)


def prepare_demo(out: Path, *, n_subjects: int = 10, n_timepoints: int = 200, seed: int = 0, quick: bool = False,
                 identify: str = "ica", space: str = "MNI152", progress: bool = True) -> Path:
    """Generate (or reuse) the embedded dataset under ``out/data`` and write ``out/experiment.toml`` (parameters as
    :func:`run_demo`); returns the config's path, for ``syncact run`` (e.g. with ``--workers``)."""
    if quick:
        n_subjects, n_timepoints = 5, 60
    n_runs = 2
    data = out / "data"
    if space not in SPACE_SETTINGS:
        raise ConfigError(f"space must be one of {tuple(SPACE_SETTINGS)}, got {space!r}.")
    params = {"n_subjects": n_subjects, "n_runs": n_runs, "n_timepoints": n_timepoints, "seed": seed,
              "format": 2, **({"space": space} if space != "MNI152" else {})}  # 2: with term maps
    stamp = out / "data.params.json"
    if data.exists() and not (stamp.is_file() and json.loads(stamp.read_text()) == params):
        if stamp.is_file():  # a dataset this command generated with other parameters
            shutil.rmtree(data)
        else:
            raise FileExistsError(f"{str(data)!r} exists and was not written by `syncact demo`; choose another --out.")
    if not data.exists():
        make_dataset(data, n_subjects=n_subjects, n_runs=n_runs, n_timepoints=n_timepoints, seed=seed, space=space,
                     progress=progress)
        _io.write_json(stamp, params)
    movies = "".join(f'[[movies]]\nrun = "{r}"\npath = "data/stimuli/task-movie_run-{r}.mp4"\noffset = 0.0\n\n'
                     for r in range(1, n_runs + 1))
    text = DEMO_CONFIG.format(seed=seed, movies=movies, n_networks=8 if quick else 16, n_epochs=20 if quick else 100,
                              identify=identify, **SPACE_SETTINGS[space])
    _io.write_text(out / "experiment.toml", text)
    return out / "experiment.toml"


def demo_figures(result: ExperimentResult) -> dict[str, object]:
    """The figures the README and docs quote from a demo run, as plain numbers (for a JSON record and its test).

    Returns
    -------
    dict
        ``spatial_r`` and ``span_r`` per planted network, their median and minimum; ``temporal_r`` per
        driven network (test-mean, mean over runs) and its minimum; ``shift_found``: per (layer, run) of
        EfficientNet-Lite0, the share of planted driven networks whose FBN pairs significantly (shift
        test); ``n_pairs`` and ``n_significant_shift`` / ``n_significant_naive`` over every Eq.2 pair;
        ``control_rate``: the share of FBNs significant against the other run's movie; ``mean_pcc`` range;
        ``term_hits``: planted networks whose best FBN is described first by that network's term map;
        ``agreement_gain``: how far the semantic agreement of paired descriptions exceeds shuffled pairs;
        on grayordinates, ``parcel_top`` / ``parcel_hits`` (:func:`parcel_figures`);
        ``encoding`` (with ``[encoding]``): its tables (per band, per planted network, per atlas network, per FBN)
        as records, and the stage's seconds.
    """
    import numpy as np

    rec, det, summary = result.recovery, result.detection, result.summary
    driven = rec[rec["kind"] == "stimulus"]
    temporal = driven.filter(like="temporal_r_run-").mean(axis=1)
    lite = det[(det["model"] == "efficientnet_lite0") & (det["fbn_role"] == "best_of_planted")]
    figures: dict[str, object] = {
        "spatial_r": dict(zip(rec["network"], rec["spatial_r"].round(4), strict=True)),
        "span_r": dict(zip(rec["network"], rec["span_r"].round(4), strict=True)),
        "median_spatial_r": float(rec["spatial_r"].median()), "min_spatial_r": float(rec["spatial_r"].min()),
        "temporal_r": dict(zip(driven["network"], temporal.round(4), strict=True)),
        "min_temporal_r": float(temporal.min()),
        "shift_found": {f"{row.layer}/run-{row.run}": float(row.share_shift) for row in lite.itertuples()},
        "n_pairs": int(summary["n_fbns"].sum()),
        "n_significant_shift": int(summary["n_significant_shift"].sum()),
        "n_significant_naive": int(summary["n_significant_naive"].sum()),
        "control_significant": int(summary["control_n_significant"].sum()),
        "control_rate": float(summary["control_n_significant"].sum() / summary["n_fbns"].sum()),
        "mean_pcc_min": float(summary["mean_pcc"].min()), "mean_pcc_max": float(summary["mean_pcc"].max()),
    }
    if result.annotation is not None:
        from syncact.simulate.bold import DEFAULT_NETWORKS, SURFACE_NETWORKS

        fbns = result.annotation.fbns
        first = fbns[(fbns["source"] == "terms") & (fbns["rank"] == 1)].set_index("unit")["term"]
        planted = {net.name: net.term for net in (*DEFAULT_NETWORKS, *SURFACE_NETWORKS)}
        figures["term_hits"] = int(np.sum([first.get(f"FBN-{row.spatial_fbn:02d}") == planted[row.network]
                                           for row in rec.itertuples()]))
        figures.update(parcel_figures(rec, fbns))
        agreement = result.annotation.summary
        if {"mean_agreement", "mean_agreement_null"} <= set(agreement.columns):
            figures["agreement_gain"] = float((agreement["mean_agreement"] - agreement["mean_agreement_null"]).mean())
    if result.encoding is not None:
        enc = result.encoding

        def records(table: pd.DataFrame | None) -> list[dict[str, object]]:
            return [] if table is None else json.loads(table.to_json(orient="records"))  # NaN -> null

        figures["encoding"] = {"table": records(enc.table), "truth": records(enc.truth), "networks": records(enc.networks),
                               "fbns": records(enc.fbn_table), "seconds": float(result.timings.get("units:encoding", 0.0) + result.timings["encoding"])}  # units + tables
    return figures


def parcel_figures(recovery: pd.DataFrame, fbns: pd.DataFrame) -> dict[str, object]:
    """On grayordinates: per planted network, the first parcel (by overlap) of the FBN that carries its map best, in
    the parcellation it was built from (Yeo 7 networks, Glasser areas); ``parcel_hits`` counts those that are one of
    the network's own parcels (either hemisphere's area). Empty when the FBNs were not described by parcellations.
    """
    from syncact.simulate.bold import SURFACE_NETWORKS

    parcels = {net.name: net.parcels for net in SURFACE_NETWORKS}
    if not any(str(source).endswith(":overlap") for source in fbns["source"].unique()):
        return {}
    top, hits = {}, 0
    for row in recovery.itertuples():
        if row.network not in parcels:
            continue
        atlas = parcels[row.network][0].split(":")[0]
        names = {entry.split(":")[1] for entry in parcels[row.network]}
        first = fbns.loc[(fbns["unit"] == f"FBN-{row.spatial_fbn:02d}") & (fbns["source"] == f"{atlas}:overlap")
                         & (fbns["rank"] == 1), "term"]
        top[row.network] = str(first.iloc[0]) if len(first) else ""
        hits += top[row.network].removeprefix("L_").removeprefix("R_") in names or top[row.network] in names
    return {"parcel_top": top, "parcel_hits": hits}


RSA_SETS = ("natural", "residual", "synthesized")


@dataclass
class RSADemoResult:
    """The second seed on the simulated event-related experiment.

    Attributes
    ----------
    mapping : DataFrame
        Per image set and planted region: recovery of the layer-to-region mapping (:func:`syncact.analysis.layer_mapping`).
    overlap : DataFrame
        Per image set: mean |r| between the mapped layer RDMs, mean Dice overlap of the layers' significant maps,
        significant spheres per layer.
    out_dir : Path
    """

    mapping: pd.DataFrame
    overlap: pd.DataFrame
    out_dir: Path

    @property
    def report_path(self) -> Path:
        """The HTML report (:func:`syncact.report.rsa.write_rsa_report`)."""
        return self.out_dir / "report" / "index.html"


def run_rsa_demo(out: Path, *, n_images: int = 32, size: int = 128, steps: int = 150, n_perm: int = 500,
                 radius_mm: float = 12.0, amplitude: float = 3.0, seed: int = 0, quick: bool = False,
                 progress: bool = True) -> RSADemoResult:
    """Layer-to-region mapping with natural, residual and synthesised image sets on a simulated experiment.

    Four regions of the 4 mm MNI152 brain encode EfficientNet-Lite0's block1..block4 (ImageNet weights,
    offline; :data:`syncact.simulate.DEFAULT_REGIONS`). For natural photographs, the experiment is
    simulated, image patterns estimated (nilearn FirstLevelModel, LSA t maps) and searchlight RSA maps the
    layers' RDMs and then their residual RDMs; images synthesised for orthogonal layer RDMs go through a
    new experiment. Writes ``out/<set>/`` (maps, RDMs, tables), ``out/synthesis/`` (the images) and
    ``out/tables/{mapping,overlap}.csv``.

    Parameters
    ----------
    out : Path
        Result folder (must not hold a previous RSA demo).
    n_images : int, default=32
    size : int, default=128
        Image side and network input (the synthesis optimises at this size).
    steps : int, default=150
        Synthesis steps.
    n_perm : int, default=500
    radius_mm : float, default=12.0
    amplitude : float, default=3.0
        Planted response (in noise standard deviations).
    seed : int, default=0
    quick : bool, default=False
        Tiny sizes (12 images of 64 pixels, 20 steps, 100 permutations) for a smoke test.
    progress : bool, default=True

    Returns
    -------
    RSADemoResult
    """
    import warnings

    import numpy as np

    from syncact.analysis import layer_mapping, overlap_summary
    from syncact.ann import get_model
    from syncact.ann.probe import layer_patterns
    from syncact.brain.patterns import image_patterns
    from syncact.report.rsa import write_rsa_report
    from syncact.rsa import layer_rdms, residual_rdms, searchlight_rsa, sphere_neighbourhoods
    from syncact.rsa.study import LayerSearchlight
    from syncact.rsa.synthesis import synthesize
    from syncact.simulate import DEFAULT_REGIONS, PlantedRegion, simulate_event_related
    from syncact.stimulus import natural_images, save_images

    if quick:
        n_images, size, steps, n_perm = 12, 64, 20, 100
    out = Path(out)
    if (out / "tables" / "overlap.csv").exists():
        raise FileExistsError(f"{str(out)!r} holds an RSA demo already; choose another --out.")
    layers = [r.layer for r in DEFAULT_REGIONS]
    regions = [PlantedRegion(r.name, r.layer, r.center_mm, radius_mm + 3.0) for r in DEFAULT_REGIONS]
    built = get_model("efficientnet_lite0").with_input_size(size)  # every set seen at the size synthesised for
    mapping: list[pd.DataFrame] = []
    overlap: list[dict[str, object]] = []

    def experiment(label: str, images: np.ndarray, names: list[str], residual: bool = False) -> None:
        features = {k: v.astype(np.float64) for k, v in layer_patterns(images, built, layers).items()}
        rdms = layer_rdms(features)
        models = residual_rdms(rdms) if residual else rdms
        data = simulate_event_related(features, names, regions=regions, amplitude=amplitude, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            patterns = image_patterns(data.run_imgs, data.events, data.t_r, mask_img=data.mask_img, images=names)
        mask = np.asarray(data.mask_img.dataobj) > 0
        spheres = sphere_neighbourhoods(mask, data.mask_img.affine, radius_mm)
        maps = searchlight_rsa(patterns.patterns, spheres, models, n_perm=n_perm, seed=seed, progress=progress)
        params = {"set": label, "model": built.name, "input_size": size, "radius_mm": radius_mm, "n_perm": n_perm,
                  "residual": residual, "simulation": data.params}
        LayerSearchlight(rdms, models, maps, data.mask_img, names, params).save(out / label)
        table = layer_mapping(maps, data.region_labels, [(r.name, r.layer) for r in regions])
        mapping.append(table.assign(set=label))
        overlap.append({"set": label, "mean_abs_r": models.mean_abs_offdiagonal(), **overlap_summary(maps)})

    natural, names = natural_images(n_images, size)
    save_images(natural, out / "natural" / "images", names)
    experiment("natural", natural, names)
    experiment("residual", natural, names, residual=True)
    synthesis = synthesize(built, layers, n_images=n_images, size=size, steps=steps, reference=natural, seed=seed,
                           progress=progress)
    synthesis.save(out / "synthesis")
    experiment("synthesized", synthesis.images, [f"image-{i + 1:02d}" for i in range(n_images)])
    mapping_table = pd.concat(mapping, ignore_index=True)[["set", *mapping[0].columns.drop("set")]]
    overlap_table = pd.DataFrame(overlap)
    _io.write_csv(out / "tables" / "mapping.csv", mapping_table)
    _io.write_csv(out / "tables" / "overlap.csv", overlap_table)
    write_rsa_report(out)
    return RSADemoResult(mapping_table, overlap_table, out)
