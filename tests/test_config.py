import pytest

from syncact.config import load_config, parse_config
from syncact.exceptions import ConfigError, MissingFileError, UnknownNameError


def _write(tmp_path, body):
    (tmp_path / "movie.mp4").write_bytes(b"x")
    path = tmp_path / "exp.toml"
    path.write_text(body)
    return path


BASE = """
name = "t"
[data]
bids = "bids"
[[movies]]
run = 1
path = "movie.mp4"
[[models]]
name = "resnet18"
weights = "random"
layers = ["block4"]
"""


def test_defaults_resolve_paths_and_roundtrip(tmp_path):
    config = load_config(_write(tmp_path, BASE))
    assert config.data.bids == (tmp_path / "bids").resolve()
    assert config.movies[0].run == "1" and config.embedding.n_networks == 64 and config.embedding.temporal == "msa"
    import tomllib

    again = parse_config(tomllib.loads(config.to_toml()), base=tmp_path)
    assert again == config.__class__(**{**config.__dict__, "source": None})
    assert config.sweep is None and config.embedding.method == "sync-act"
    swept = load_config(_write(tmp_path, BASE + "[sweep]\nmethods = ['LT', 'pca']\nn_networks = [8, 16]\n"))
    assert swept.sweep.methods == ("lt", "pca") and swept.sweep.n_networks == (8, 16)
    assert parse_config(tomllib.loads(swept.to_toml()), base=tmp_path).sweep == swept.sweep
    (tmp_path / "terms").mkdir()
    for name in ("ho.nii.gz", "ho.txt"):
        (tmp_path / name).write_text("x")
    body = BASE + "[annotation]\nterm_maps = 'terms'\nlabel_atlases = [{image = 'ho.nii.gz', labels = 'ho.txt'}]\n"
    annotated = load_config(_write(tmp_path, body))
    assert annotated.annotation.term_maps == str(tmp_path / "terms") and annotated.annotation.classes
    assert annotated.annotation.label_atlases[0]["labels"] == str(tmp_path / "ho.txt")
    assert parse_config(tomllib.loads(annotated.to_toml()), base=tmp_path).annotation == annotated.annotation


@pytest.mark.parametrize(("extra", "error", "match"), [
    ("[embedding]\ntemporal = 'gru'\n", UnknownNameError, "embedding.temporal='gru'"),
    ("[embedding]\nepochs = 5\n", ConfigError, r"unknown key\(s\) \['epochs'\]"),
    ("[embedding]\nmethod = 'ica'\n", UnknownNameError, "embedding.method='ica'.*canica"),
    ("[embedding]\nlr_schedule = 'step'\n", UnknownNameError, "lr_schedule='step'"),
    ("[sweep]\nmethods = ['lt', 'nmf']\n", UnknownNameError, "sweep.methods='nmf'"),
    ("[sweep]\nn_networks = 64\n", ConfigError, "n_networks must be a list of integers, got int 64"),
    ("[sweep]\nn_networks = []\n", ConfigError, "n_networks must be a non-empty list"),
    ("[frames]\nsize = '32x24'\n", ConfigError, r"\[frames\] size must be a list of 2 integers .*'32x24'"),
    ("[frames]\nsize = [32, 24, 3]\n", ConfigError, r"\[frames\] size must be a list of 2 integers"),
    ("[embedding]\nn_epochs = 'ten'\n", ConfigError, r"\[embedding\] n_epochs must be an integer"),
    ("[embedding]\nsubspace_shares = 0\n", ConfigError, "embedding.subspace_shares"),
    ("[embedding]\nlearning_rate = true\n", ConfigError, r"\[embedding\] learning_rate must be a number"),
    ("[data2]\nx = 1\n", ConfigError, "unknown top-level key"),
    ("[sweep]\nn_networks = [64, 0]\n", ConfigError, "sweep.n_networks"),
    ("[pairing]\nhrf = 'boxcar'\n", UnknownNameError, "pairing.hrf"),
    ("[embedding]\nsplit = [0.5, 0.5, 0.5]\n", ConfigError, "summing to 1"),
    ("[annotation]\natlases = ['aal']\n", UnknownNameError, "annotation.atlases='aal'"),
    ("[annotation]\nterm_maps = 'nowhere'\n", ConfigError, "term_maps = .*nowhere.* does not exist"),
    ("[annotation]\nlabel_atlases = [{image = 'a.nii'}]\n", ConfigError, "must be a table with 'image', 'labels'"),
])
def test_bad_values_are_named(tmp_path, extra, error, match):
    with pytest.raises(error, match=match):
        load_config(_write(tmp_path, BASE + extra))


@pytest.mark.parametrize(("top", "match"), [("seed = 'zero'", "seed must be an integer, got str 'zero'"),
                                            ("name = 3", "name must be a string"),
                                            ("cache = false", "cache must be a string")])
def test_bad_top_level_values_are_named(tmp_path, top, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, top + "\n" + BASE.replace('name = "t"\n', "")))


def test_unknown_model_and_missing_movie(tmp_path):
    with pytest.raises(UnknownNameError, match="resnet81.*Did you mean 'resnet18'"):
        load_config(_write(tmp_path, BASE.replace('"resnet18"', '"resnet81"')))
    with pytest.raises(ConfigError, match="top1_accuracy is a percentage"):
        load_config(_write(tmp_path, BASE.replace('"resnet18"', '"resnet18"\ntop1_accuracy = 0.7\n', 1)))
    with pytest.raises(MissingFileError, match="movie for run 1.*nothere.mp4"):
        load_config(_write(tmp_path, BASE.replace("movie.mp4", "nothere.mp4")))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[data\n"))


def test_pairing_section_passes_every_option_of_pair_by_name():
    import dataclasses
    import inspect

    import numpy as np

    from syncact.config import PairingConfig
    from syncact.sync import pair

    taken = set(inspect.signature(pair).parameters)
    section = PairingConfig(alpha=0.01, hrf="glover", n_phase=20, max_lag=2, alternative="two-sided")
    # every field pair() takes, and only those (confidence is the jackknife's)
    assert set(section.pair_kwargs()) == {f.name for f in dataclasses.fields(PairingConfig)} & taken
    assert "confidence" not in section.pair_kwargs()
    assert set(section.pair_kwargs(extras=False)) == set(section.pair_kwargs()) - set(PairingConfig.EXTRAS)
    # a new option: a field of the same name as pair's argument reaches it with no other change
    extended = dataclasses.make_dataclass("Extended", [("seed", int, 7)], bases=(PairingConfig,), frozen=True)
    assert extended().pair_kwargs()["seed"] == 7
    rng = np.random.default_rng(0)
    fbn, filters = rng.normal(size=(60, 3)), rng.normal(size=(60, 5))
    direct = pair(fbn, filters, tr=1.0, alpha=0.01, hrf="glover", n_phase=20, max_lag=2, alternative="two-sided")
    via = pair(fbn, filters, tr=1.0, **section.pair_kwargs())
    assert via.params == direct.params
    np.testing.assert_array_equal(via.eq2["p_shift"], direct.eq2["p_shift"])


def test_pairing_fdr_is_checked(tmp_path):
    assert load_config(_write(tmp_path, BASE + "[pairing]\nfdr = 'by'\n")).pairing.fdr == "by"
    with pytest.raises(UnknownNameError, match="pairing.fdr"):
        load_config(_write(tmp_path, BASE + "[pairing]\nfdr = 'holm'\n"))
