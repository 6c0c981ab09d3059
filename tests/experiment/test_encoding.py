"""[encoding] end to end on the tiny embedded dataset: tables, maps, ceilings, the null, and the report section."""

import numpy as np
import pandas as pd
import pytest

from syncact.config import parse_config
from syncact.experiment import run_experiment


@pytest.fixture
def encoded(tiny_dataset, tmp_path_factory):
    raw = {
        "name": "tiny-encoding",
        "data": {"bids": str(tiny_dataset.root), "task": "movie"},
        "movies": [{"run": str(r), "path": str(p)} for r, p in tiny_dataset.movies.items()],
        "models": [{"name": "efficientnet_lite0", "weights": "imagenet", "layers": ["block3", "last_conv"]}],
        "embedding": {"n_networks": 8, "temporal": "none", "n_epochs": 3, "n_components": 32},
        "pairing": {"hrf": "glover"},
        "encoding": {"n_components": 16, "n_iter": 3, "delays": [2, 3, 4, 5]},
    }
    return run_experiment(parse_config(raw), tmp_path_factory.mktemp("run"), progress=False)


def test_encoding_tables_maps_null_and_report(encoded, check_quotes):
    """One test (one run): a second test on the module's fixture would run it again on the other xdist worker."""
    out, enc = encoded.out_dir, encoded.encoding
    for rel in ("tables/encoding.csv", "tables/encoding_fbns.csv", "tables/encoding_truth.csv", "tables/encoding_networks.csv",
                "encoding/efficientnet_lite0_imagenet_r.nii.gz", "encoding/efficientnet_lite0_imagenet_winner.nii.gz",
                "encoding/efficientnet_lite0_imagenet_r2.nii.gz", "encoding/efficientnet_lite0_imagenet_r2_block3.nii.gz",
                "encoding/ceiling.nii.gz"):
        assert (out / rel).is_file(), rel
    table = pd.read_csv(out / "tables" / "encoding.csv")
    assert list(table["band"]) == ["block3", "last_conv"]
    # with another run's movie, the voxels' own shift nulls hold their level (measured on 29,398 voxels)
    assert (table["false_positive_rate"] <= 0.08).all()
    assert table["share_won"].sum() == pytest.approx(1.0)
    scores = enc.voxels["efficientnet_lite0/imagenet"]
    assert scores.r.shape == (2, encoded.embedding.maps_.shape[1]) and np.isfinite(scores.r).all()
    assert (enc.ceiling >= 0).all() and (enc.ceiling <= 1).all()
    fbns = pd.read_csv(out / "tables" / "encoding_fbns.csv")
    assert len(fbns) == 8 and fbns["paired_layer"].isin(["block3", "last_conv"]).all()
    assert fbns["ceiled_r"].dropna().between(0, 1).all()
    n_test = len(encoded.split["test"])
    assert n_test == 2 and fbns["ceiled_r_low"].isna().all()  # 2 test subjects: one left out leaves no ISC, no interval
    networks = pd.read_csv(out / "tables" / "encoding_networks.csv")
    assert len(networks) == 6 and networks["n_voxels"].gt(0).all() and networks["share_significant"].between(0, 1).all()
    truth = pd.read_csv(out / "tables" / "encoding_truth.csv", keep_default_na=False)
    assert set(truth["planted_layer"]) == {"block3", "last_conv", ""}  # CNN-driven, and the others
    assert set(truth["kind"]) == {"stimulus", "spontaneous"} and len(truth) == 7
    # the report shows encoding beside the pairing, its summary sentences quote these tables
    page = encoded.report_path.read_text()
    assert check_quotes(page, encoded.out_dir) > 10  # the encoding sentences' numbers are the tables' too
    assert 'data-table="encoding"' in page and 'data-table="encoding_fbns"' in page
    assert '<section id="encoding">' in page and 'href="#encoding"' in page
    for table in ("t-encoding", "t-encoding_fbns", "t-encoding_truth", "t-encoding_networks"):
        assert f'id="{table}"' in page, table
    assert ">Best layer (encoding)</th>" in page and ">Best layer (pairing)</th>" in page
