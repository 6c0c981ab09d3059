"""The demo at full size (seed 0): the figures quoted in the docs are checked here, against the latest
record of ``benchmarks/bench_demo.py`` (``benchmarks/results/demo-*.json``) within stated tolerances."""

import json
from pathlib import Path

import pytest

from syncact.demo import demo_figures, run_demo

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo"), progress=False)


@pytest.fixture(scope="module")
def record():
    return json.loads(sorted(RESULTS.glob("demo-2*.json"))[-1].read_text())["ica"]  # not demo-surface-*


@pytest.mark.slow
def test_demo_recovers_the_planted_networks(demo):
    """Identified FBNs are the planted networks (issue bars: median spatial r >= 0.9, none below 0.8, driven
    networks' test-mean temporal r >= 0.9); before identification the maps were mixtures at 0.35-0.46."""
    figures = demo_figures(demo)
    assert figures["median_spatial_r"] >= 0.9 and figures["min_spatial_r"] >= 0.8, figures["spatial_r"]
    assert figures["min_temporal_r"] >= 0.9, figures["temporal_r"]
    assert len(set(demo.recovery["spatial_fbn"])) == len(demo.recovery)  # one FBN per planted network


@pytest.mark.slow
def test_demo_figures_match_the_recorded_run(demo, record):
    """What README.md quotes comes from the record; this run reproduces it (threads may change the last bits
    of the training, so each figure has a tolerance)."""
    figures = demo_figures(demo)
    for name in ("median_spatial_r", "min_spatial_r", "min_temporal_r", "mean_pcc_min", "mean_pcc_max"):
        assert figures[name] == pytest.approx(record[name], abs=0.03), name
    for name, tolerance in (("n_significant_shift", 4), ("n_significant_naive", 4), ("control_significant", 3)):
        assert abs(figures[name] - record[name]) <= tolerance, (name, figures[name], record[name])
    assert figures["n_pairs"] == record["n_pairs"]
    assert figures["term_hits"] >= record["term_hits"] - 1


@pytest.mark.slow
def test_demo_pairing_finds_driven_fbns_and_keeps_its_level(demo):
    det = demo.detection
    lite = det[(det["model"] == "efficientnet_lite0") & (det["layer"] == "last_conv")].set_index(["run", "fbn_role"])
    for run in ("1", "2"):
        assert lite.loc[(run, "driven"), "share_shift"] >= 0.5
        # the planted driven networks found by the shift test with last_conv (3 or 4 of 4 at seed 0: a pure
        # luminance network pairs with last_conv at r 0.49 in run 1, p_shift 0.14)
        assert lite.loc[(run, "best_of_planted"), "share_shift"] >= 0.75
        assert lite.loc[(run, "driven"), "mean_pcc"] > lite.loc[(run, "unrelated"), "mean_pcc"]
    summary = demo.summary
    # FBNs paired with another run's movie: a null with real autocorrelation stays near alpha = 0.05
    control_rate = summary["control_n_significant"].sum() / summary["n_fbns"].sum()
    assert control_rate <= 0.1, control_rate
    # while the naive parametric test calls nearly every real pair significant
    assert summary["n_significant_naive"].sum() / summary["n_fbns"].sum() > 0.8
    lite_summary = summary[(summary["model"] == "efficientnet_lite0") & (summary["layer"] == "last_conv")]
    assert lite_summary["mean_significant"].all()
    # jackknife intervals over the 3 test subjects: every row has one, around a positive mean PCC
    assert (summary["mean_pcc_low"] < summary["mean_pcc_high"]).all()
    assert (lite_summary["mean_pcc_low"] > 0).all()
    eq2 = demo.pairings[("efficientnet_lite0", "imagenet", "last_conv", "1")].eq2
    assert (eq2["pcc_low"] < eq2["pcc_high"]).all() and {"n_eff", "p_edf"} <= set(eq2.columns)


@pytest.mark.slow
def test_demo_cross_annotation_names_the_planted_networks(demo):
    """Each planted map's best FBN carries that network's planted term first (7 of 7 at seed 0); the
    agreement of true pairs is above its shuffled-pair null on average."""
    from syncact.simulate.bold import DEFAULT_NETWORKS

    terms = demo.annotation.fbns[(demo.annotation.fbns["source"] == "terms") & (demo.annotation.fbns["rank"] == 1)]
    first = terms.set_index("unit")["term"]
    planted = {net.name: net.term for net in DEFAULT_NETWORKS}
    hits = [first[f"FBN-{row.spatial_fbn:02d}"] == planted[row.network] for row in demo.recovery.itertuples()]
    assert sum(hits) >= 6, hits
    summary = demo.annotation.summary
    assert (summary["mean_agreement"] - summary["mean_agreement_null"]).mean() > 0


@pytest.mark.slow
def test_demo_encoding_names_the_planted_layers_and_holds_its_level(demo, record):
    """Issue 20's bars on the demo: the block3- and last_conv-driven networks' voxels are won by the planted layer
    of Lite0 in >= 80 % of their voxels; spontaneous networks and the mismatched-movie control stay near 5 %;
    the figures reproduce the record's."""
    enc = demo_figures(demo)["encoding"]
    truth = {(r["model"], r["network"]): r for r in enc["truth"]}
    for network in ("ventral_temporal_cnn_mid", "parietal_cnn_high"):
        assert truth[("efficientnet_lite0", network)]["share_won_planted"] >= 0.8, network
    spontaneous = [r["share_significant"] for r in enc["truth"] if r["kind"] == "spontaneous"]
    assert max(spontaneous) <= 0.15 and sum(spontaneous) / len(spontaneous) <= 0.08, spontaneous
    assert all(r["false_positive_rate"] <= 0.05 for r in enc["table"])
    assert {r["network"] for r in enc["networks"]} >= {"occipital", "default"}
    recorded = {(r["model"], r["network"]): r for r in record["encoding"]["truth"]}
    for key, row in truth.items():
        assert row["share_significant"] == pytest.approx(recorded[key]["share_significant"], abs=0.05), key
