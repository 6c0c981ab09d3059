"""End to end on grayordinates: the tiny fsLR 32k dataset (HCP layout, CIFTI) through the whole pipeline."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from syncact.brain.cifti import cortex_models
from syncact.config import parse_config
from syncact.exceptions import ConfigError
from syncact.experiment import run_experiment


def _raw(ds, **extra):
    return {
        "name": "tiny-surface",
        "data": {"bids": str(ds.root), "layout": "hcp", "hcp_data": "cifti"},
        "movies": [{"run": str(r), "path": str(p)} for r, p in ds.movies.items()],
        "models": [{"name": "efficientnet_lite0", "weights": "imagenet", "layers": ["last_conv"]}],
        "embedding": {"n_networks": 8, "temporal": "msa", "n_epochs": 40, "n_components": 64},
        "pairing": {"hrf": "glover"},
        **extra,
    }


@pytest.fixture(scope="module")
def result(tiny_surface_dataset, tmp_path_factory):
    terms = tiny_surface_dataset.root / "derivatives" / "ground_truth" / "term_maps"
    config = parse_config(_raw(tiny_surface_dataset, annotation={"parcellations": ["yeo7", "mmp"], "term_maps": str(terms),
                                                                 "n_perm": 100, "agreement": False}))
    return run_experiment(config, tmp_path_factory.mktemp("run-surface"), progress=False)


def test_maps_are_cifti_with_the_inputs_brain_models(result):
    out = result.out_dir
    img = nib.load(out / "brain" / "fbn_maps.dscalar.nii")
    assert img.header.get_axis(1) == cortex_models()  # the input's grayordinates, readable by Workbench
    assert list(img.header.get_axis(0).name) == [f"FBN-{k:02d}" for k in range(8)]
    np.testing.assert_allclose(np.asarray(img.get_fdata()), result.embedding.maps_, rtol=1e-6, atol=1e-6)
    assert not (out / "brain" / "fbn_maps.nii.gz").exists() and not (out / "tables" / "fbn_peaks.csv").exists()
    assert (out / "tables" / "recovery.csv").is_file() and (out / "tables" / "summary.csv").is_file()


def test_recovery_and_parcellation_describers(result):
    """The planted truth is read on grayordinates and every FBN is described by the HCP parcellations and the CIFTI
    term maps (whether the descriptions name the planted parcels is the grayordinate demo's test: 3 training
    subjects x 2 runs of 60 TRs do not recover the networks, as on the volume)."""
    rec = result.recovery
    assert len(rec) == 7 and rec["spatial_r"].between(-1, 1).all() and rec["span_r"].between(0, 1).all()
    fbns = result.annotation.fbns
    assert {"yeo7:loading", "yeo7:overlap", "mmp:loading", "mmp:overlap", "terms"} == set(fbns["source"])
    assert fbns.groupby("unit").size().size == 8
    top = fbns[(fbns["source"] == "mmp:overlap") & (fbns["rank"] == 1)]
    assert top["term"].str.match(r"^[LR]_").all() and top["score"].between(0, 1).all()


def test_report_draws_the_maps_on_the_surface(result, browse):
    html = result.report_path.read_text()
    assert html.count("{background-image:url(data:image/png;base64,") == 8
    assert "left lateral" not in html  # the views' names are drawn into the pictures, not written as text
    facts = browse(result.report_path, "report-surface")
    assert not facts["problems"], facts["problems"]
    assert facts["broken"] == [] and len(facts["backgrounds"]) == 8 and min(facts["backgrounds"]) > 500


@pytest.mark.parametrize(("extra", "match"), [
    ({"embedding": {"n_networks": 4, "method": "canica"}}, "cannot take CIFTI grayordinates"),
    ({"sweep": {"methods": ["lt", "dictlearning"], "n_networks": [4]}}, "cannot take CIFTI grayordinates"),
])
def test_volume_only_settings_are_refused_before_anything_is_written(tiny_surface_dataset, tmp_path, extra, match):
    raw = _raw(tiny_surface_dataset)
    raw.update({k: {**raw.get(k, {}), **v} for k, v in extra.items()})
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=match):
        run_experiment(parse_config(raw), out, progress=False)
    assert not out.exists() or not any(out.iterdir())


def test_term_maps_on_other_grayordinates_are_an_error(tiny_surface_dataset, tmp_path):
    from syncact.annotate.fbns import TermMaps
    from syncact.brain.cifti import dscalar
    from syncact.exceptions import DataError

    left = cortex_models()[:29696]
    nib.save(dscalar(np.ones((1, left.size)), left, ["x"]), tmp_path / "left_only.dscalar.nii")
    terms = TermMaps.from_directory(tmp_path, grayordinates=True)
    assert terms.terms == ("left only",)
    keep = np.ones(59412, dtype=bool)
    with pytest.raises(DataError, match="other grayordinates"):
        terms.describe_grayordinates(np.ones((2, 59412)), cortex_models(), keep, ["a", "b"])
    described = TermMaps.from_directory(tiny_surface_dataset.root / "derivatives" / "ground_truth" / "term_maps",
                                        grayordinates=True)
    maps = np.asarray(tiny_surface_dataset.maps)
    table = described.describe_grayordinates(maps, cortex_models(), keep, [f"n{i}" for i in range(len(maps))], top=1)
    planted = pd.read_csv(tiny_surface_dataset.root / "derivatives" / "ground_truth" / "networks.tsv", sep="\t")
    assert [t.replace(" ", "_") for t in table["term"]] == [n.term.replace(" ", "_") for n in _networks(planted)]
    np.testing.assert_allclose(table["score"], 1.0, atol=1e-6)  # each planted map is its own term map


def _networks(planted):
    from syncact.simulate.bold import SURFACE_NETWORKS

    assert list(planted["name"]) == [n.name for n in SURFACE_NETWORKS]
    return SURFACE_NETWORKS
