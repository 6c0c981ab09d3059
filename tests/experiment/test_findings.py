"""The summary's findings from tables with known numbers: what each sentence quotes, and when it is left out."""

import pandas as pd
import pytest

from syncact.experiment.findings import findings


def _summary(**extra):
    rows = []
    for layer, n_filters, pcc in (("block3", 112, 0.30), ("last_conv", 1280, 0.45)):
        for run in (1, 2):
            rows.append({"model": "lite0", "weights": "imagenet", "layer": layer, "run": run, "mean_pcc": pcc + run / 100,
                         "mean_pcc_low": pcc - 0.05, "mean_pcc_high": pcc + 0.1, "mean_significant": run == 1,
                         "n_fbns": 16, "n_significant_shift": 4 + run, "n_significant_fdr": 2, "n_filters": n_filters,
                         "control_mean_pcc": 0.2, "control_n_significant": 1, **extra})
    return pd.DataFrame(rows)


def _layers(summary):
    return summary.groupby(["model", "weights", "layer"], sort=False)["mean_pcc"].mean().reset_index()


def test_sentences_quote_the_numbers_of_the_tables():
    summary = _summary()
    found = findings({"summary": summary, "layers": _layers(summary)}, alpha=0.05, n_timepoints={"1": 200, "2": 200})
    text = found.text()
    assert "ranged from 0.310 (lite0 block3 (imagenet), run 1) to 0.470 (lite0 last_conv (imagenet), run 2" in text
    assert "interval over test subjects 0.400 to 0.550" in text  # the best pairing's own interval
    assert "significant in 2 of 4 pairings" in text
    assert "22 of 64 FBN-filter pairs (34 %) were significant at alpha = 0.05 (8 after FDR)" in text
    assert "4 of 64 pairs (6 %) were significant, where alpha = 0.05 expects about 3" in text
    assert "mean PCC over runs was 0.315 in block3 and 0.465 in last_conv" in text
    assert [t["label"] for t in found.tiles] == ["Best mean PCC", "Significant pairs", "Control false positives"]
    assert all(q.table in ("summary", "layers") for q in found.quotes())
    (caveat,) = found.caveats  # last_conv has 1,280 filters: the measured liberal rate is named
    assert caveat.startswith("lite0 last_conv: more than 1,000 filters") and "0.061" in caveat


def test_optional_tables_add_their_sentences_and_short_runs_a_caveat():
    summary = _summary().drop(columns=["control_mean_pcc", "control_n_significant"])
    recovery = pd.DataFrame({"network": ["a", "b", "c"], "kind": ["stimulus", "stimulus", "spontaneous"],
                             "spatial_r": [0.9, 0.8, 0.7], "temporal_r_run-1": [0.95, 0.6, float("nan")]})
    detection = pd.DataFrame({"fbn_role": ["driven", "unrelated", "driven", "unrelated"],
                              "share_shift": [1.0, 0.1, 0.5, 0.0]})
    regression = pd.DataFrame({"n_models": [3], "slope": [0.01], "r2": [0.5], "p_value": [0.2]})
    tables = {"summary": summary, "layers": _layers(summary), "recovery": recovery, "detection": detection,
              "accuracy_regression": regression}
    found = findings(tables, alpha=0.05, n_timepoints={"1": 100, "2": 200})
    text = found.text()
    assert "another run's movie" not in text and "Control false positives" not in [t["label"] for t in found.tiles]
    assert "at 0.800 (median; lowest 0.700)" in text and "tracked the planted BOLD at 0.600 to 0.950 (run 1)" in text
    assert "paired significantly in 75 % of cases" in text and "FBNs that track none in 5 %" in text
    assert "Across 3 ImageNet models, mean PCC changed by 0.01 per point of top-1 accuracy (R² = 0.500, p = 0.2)" in text
    assert any(c.startswith("run(s) 1 (100 TRs): shorter than the 150") for c in found.caveats)


def test_the_summary_and_layers_tables_are_required():
    summary = _summary()
    with pytest.raises(KeyError):
        findings({"summary": summary}, alpha=0.05, n_timepoints={})
