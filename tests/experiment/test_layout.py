"""The run directory: one writer of the layout, atomic files, a finished run never overwritten silently."""

import numpy as np
import pandas as pd
import pytest

from syncact.exceptions import ConfigError
from syncact.experiment import RunDirectory
from syncact.experiment.layout import changed_keys


def test_claim_records_the_config_and_refuses_another(tmp_path):
    run_dir = RunDirectory(tmp_path / "run")
    first = 'seed = 0\n[embedding]\nn_networks = 8\n'
    run_dir.claim(first, overwrite=False)  # a new directory: claimed, the config recorded
    assert (tmp_path / "run" / "config.resolved.toml").read_text() == first
    run_dir.claim(first, overwrite=False)  # the same configuration: a rerun reuses its units
    other = 'seed = 3\n[embedding]\nn_networks = 4\n'
    with pytest.raises(ConfigError, match=r"another configuration \(changed: embedding.n_networks, seed\).*--overwrite"):
        run_dir.claim(other, overwrite=False)
    assert (tmp_path / "run" / "config.resolved.toml").read_text() == first  # refused: left as it was
    run_dir.claim(other, overwrite=True)
    assert (tmp_path / "run" / "config.resolved.toml").read_text() == other
    (tmp_path / "run" / "config.resolved.toml").write_text("not = [toml")
    with pytest.raises(ConfigError, match="cannot be read.*--overwrite"):
        run_dir.claim(other, overwrite=False)


def test_changed_keys_are_dotted():
    assert changed_keys({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 5}, "e": 0}) == ["b.c", "b.d", "e"]
    assert changed_keys(1, 1) == [] and changed_keys(1, 2) == ["(root)"]


def test_pairings_are_written_as_csv_and_parquet_with_the_same_rows(tmp_path):
    run_dir = RunDirectory(tmp_path)
    eq2 = pd.DataFrame({"fbn": ["FBN-00", "FBN-01"], "filter": ["filter-3", "filter-7"], "pcc": [0.5, -0.25]})
    eq1 = pd.DataFrame({"filter": ["filter-3"], "fbn": ["FBN-00"], "pcc": [0.5]})
    run_dir.write_pairing("m", "imagenet", "block3", "1", eq2, eq1)
    for eq, table in (("eq2", eq2), ("eq1", eq1)):
        pd.testing.assert_frame_equal(pd.read_csv(run_dir.pairing("m", "imagenet", "block3", "1", eq)), table)
        pd.testing.assert_frame_equal(pd.read_parquet(run_dir.pairing("m", "imagenet", "block3", "1", eq, ".parquet")), table)
    assert run_dir.pairing("m", "imagenet", "block3", "1", "eq2").name == "m_imagenet_block3_run-1_eq2.csv"


def test_fbn_activations_keep_subjects_and_names(tmp_path):
    run_dir = RunDirectory(tmp_path)
    per_subject = np.arange(24, dtype=float).reshape(2, 4, 3)
    run_dir.write_fbn_activations("2", per_subject.mean(0), per_subject, ["sub-01", "sub-02"], ["FBN-00", "FBN-01", "FBN-02"])
    table = pd.read_csv(tmp_path / "brain" / "activations_run-2.csv")
    assert list(table.columns) == ["FBN-00", "FBN-01", "FBN-02"]
    np.testing.assert_allclose(table.to_numpy(), per_subject.mean(0))
    with np.load(tmp_path / "brain" / "activations_subjects_run-2.npz") as saved:
        np.testing.assert_array_equal(saved["activations"], per_subject)
        assert saved["subjects"].tolist() == ["sub-01", "sub-02"]
