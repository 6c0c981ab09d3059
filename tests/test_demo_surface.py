"""The grayordinate demo at full size (seed 0, ``syncact demo --space fsLR32k``): its figures are held to the latest
record of ``benchmarks/bench_demo.py --space fsLR32k`` (``benchmarks/results/demo-surface-*.json``) within stated
tolerances, and to issue 21's bars."""

import json
from pathlib import Path

import nibabel as nib
import pytest

from syncact.demo import demo_figures, run_demo

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo-surface"), space="fsLR32k", progress=False)


@pytest.fixture(scope="module")
def figures(demo):
    return demo_figures(demo)


@pytest.fixture(scope="module")
def record():
    return json.loads(sorted(RESULTS.glob("demo-surface-*.json"))[-1].read_text())["ica"]


@pytest.mark.slow
def test_grayordinate_demo_recovers_and_names_the_planted_networks(figures):
    """Each planted network's best FBN is described first (by overlap) by the Yeo network or a Glasser area it was
    built from (7 of 7 at seed 0), and carries the planted term map first; the driven networks' time courses come
    back at r >= 0.9 and no network falls below the volume demo's floor (0.8). The median spatial r is 0.885 at seed
    0, below the volume demo's 0.9: z-scoring caps the three small Glasser networks near 0.90 for any method (an
    exact PCA of the training data reaches 0.897-0.905, docs/grayordinates.md)."""
    assert figures["parcel_hits"] == 7, figures["parcel_top"]
    assert figures["term_hits"] >= 6
    assert figures["min_spatial_r"] >= 0.8 and figures["median_spatial_r"] >= 0.86, figures["spatial_r"]
    assert figures["min_temporal_r"] >= 0.9, figures["temporal_r"]
    for network in ("early_visual_luminance", "default_mode", "frontoparietal"):
        assert figures["spatial_r"][network] >= 0.9, network


@pytest.mark.slow
def test_grayordinate_demo_figures_match_the_recorded_run(figures, record):
    for name in ("median_spatial_r", "min_spatial_r", "min_temporal_r", "mean_pcc_min", "mean_pcc_max"):
        assert figures[name] == pytest.approx(record[name], abs=0.03), name
    for name, tolerance in (("n_significant_shift", 4), ("control_significant", 3)):
        assert abs(figures[name] - record[name]) <= tolerance, (name, figures[name], record[name])
    assert figures["n_pairs"] == record["n_pairs"] and figures["parcel_top"] == record["parcel_top"]


@pytest.mark.slow
def test_grayordinate_demo_writes_cifti_maps_and_surface_report(demo):
    from syncact.brain.cifti import cortex_models

    out = demo.out_dir
    for rel in ("brain/fbn_maps.dscalar.nii", "encoding/ceiling.dscalar.nii"):
        img = nib.load(out / rel)
        assert img.header.get_axis(1) == cortex_models(), rel
    html = demo.report_path.read_text()
    assert html.count("{background-image:url(data:image/png;base64,") == 16  # one surface picture per FBN
    shift = demo.detection[(demo.detection["model"] == "efficientnet_lite0") & (demo.detection["fbn_role"] == "best_of_planted")]
    assert shift["share_shift"].mean() >= 0.75  # the planted driven networks pair with the planting layers' filters
