import re
import subprocess
import sys

import pytest

from syncact.cli import main


@pytest.mark.parametrize("command", ["demo", "run", "tables", "simulate", "layers", "models", "activations",
                                     "inspect", "prepare", "synthesize", "searchlight", "simulate-rsa",
                                     "demo-rsa", "embed", "units", "encode"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: syncact" in capsys.readouterr().out


def test_layers_lists_aliases(capsys):
    assert main(["layers", "efficientnet_lite0"]) == 0
    out = capsys.readouterr().out
    assert "block3" in out and "_blocks.10" in out and "last_conv" in out
    assert re.search(r"block3 +_blocks.10 +MBConvBlock +112 +14x14", out)  # Lite0 block3: 112 filters, 14x14 map


def test_activations_command_fills_then_reads_the_cache(tmp_path, capsys, rng):
    import numpy as np

    from syncact.ann import Activations
    from syncact.stimulus import Frames

    images = (rng.random((5, 36, 48, 3)) * 255).astype(np.uint8)
    Frames(images, np.arange(5.0), 1.0, 0.0, "synthetic", "last").save(tmp_path / "frames.npz")
    args = ["activations", str(tmp_path / "frames.npz"), "--model", "resnet18", "--weights", "random", "--layers",
            "block2", "last_conv", "--cache", str(tmp_path / "cache"), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a.npz")]) == 0
    assert "5 frames -> block2 128, last_conv 512 filters" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b.npz")]) == 0
    assert "from cache: block2, last_conv" in capsys.readouterr().out
    a, b = Activations.load(tmp_path / "a.npz"), Activations.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(a.layers["last_conv"], b.layers["last_conv"])
    before = (tmp_path / "a.npz").read_bytes()
    assert main([*args, "--out", str(tmp_path / "a.npz")]) == 2
    assert "exists" in capsys.readouterr().err and (tmp_path / "a.npz").read_bytes() == before


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("syncact: error: config file") and "missing.toml" in err
    assert main(["layers", "vgg99"]) == 2


def test_bad_inputs_tried_end_with_a_named_error_and_no_output(tmp_path, capsys, rng):
    """Cases found by trying the commands as a new user would (issue 17): each ends in one line that names
    the file or key, exit code 2, and nothing written."""
    import numpy as np

    a_file = tmp_path / "taken"
    a_file.write_text("mine")
    for command in (["prepare", str(tmp_path), "--out", str(a_file)], ["demo", "--out", str(a_file)],
                    ["embed", str(tmp_path / "s.zarr"), "--out", str(a_file / "x")]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith("syncact: error: --out") and str(a_file) in err and "Traceback" not in err
    assert a_file.read_text() == "mine"
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=rng.random((4, 8, 8)), times=np.arange(4.0), meta=np.array('{"tr": 1.0, "offset": 0.0, '
                                                                                    '"source": "m.mp4"}'))
    assert main(["activations", str(bad), "--model", "resnet18", "--weights", "random", "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "expected (n_timepoints, height, width, 3) uint8" in err
    assert not (tmp_path / "o.npz").exists()
    assert main(["layers", "efficientnet-lite0"]) == 0  # PyPI spelling of a registered model
    assert "last_conv" in capsys.readouterr().out


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "syncact.cli", "models"], capture_output=True, text=True, check=True)
    assert "efficientnet_lite0" in out.stdout and "resnet18" in out.stdout


def test_inspect_and_prepare_commands(tmp_path, capsys):
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(0)
    aff = np.diag([8.0, 8.0, 8.0, 1.0])
    aff[:3, 3] = (-98.0, -134.0, -72.0)
    for sub in ("01", "02"):
        img = nib.Nifti1Image((1000 + 10 * rng.standard_normal((25, 30, 24, 12))).astype(np.float32), aff)
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = 2.0
        path = tmp_path / "bids" / f"sub-{sub}" / "func" / f"sub-{sub}_task-movie_run-1_bold.nii.gz"
        path.parent.mkdir(parents=True)
        nib.save(img, path)
    assert main(["inspect", str(tmp_path / "bids"), "--runs"]) == 0
    out = capsys.readouterr().out
    assert "bids layout" in out and "subjects (2): 01, 02" in out and "TR: 2 s" in out and "problems: none" in out
    assert main(["prepare", str(tmp_path / "bids"), "--out", str(tmp_path / "p.zarr"), "--high-pass", "0",
                 "--no-progress"]) == 0
    assert "2 runs, 29398 features, TR 2 s" in capsys.readouterr().out
    (tmp_path / "bids" / "sub-02" / "func" / "sub-02_task-movie_run-1_bold.nii.gz").write_bytes(b"broken")
    assert main(["inspect", str(tmp_path / "bids")]) == 1
    assert "cannot be read" in capsys.readouterr().out


def test_synthesize_command(tmp_path, capsys):
    out = tmp_path / "synth"
    args = ["synthesize", "--model", "efficientnet_lite0", "--layers", "block1", "block3", "--images", "4", "--size",
            "32", "--input-size", "48", "--steps", "3", "--reference", "natural:4", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "reference images (mean |r|" in printed and "synthesised images" in printed
    assert len(list((out / "images").glob("*.png"))) == 4 and (out / "synthesis.json").exists()
    assert main(args) == 2  # never overwrites
    assert "already" in capsys.readouterr().err


def test_simulate_rsa_then_searchlight_commands(tmp_path, capsys):
    bids = tmp_path / "bids"
    assert main(["simulate-rsa", str(bids), "--images", "natural:8", "--runs", "1", "--repeats", "2"]) == 0
    func = bids / "sub-01" / "func"
    out = tmp_path / "sl"
    assert main(["searchlight", "--images", str(bids / "stimuli"), "--bold", str(func / "sub-01_task-images_run-1_bold.nii.gz"),
                 "--events", str(func / "sub-01_task-images_run-1_events.tsv"), "--tr", "2", "--mask",
                 str(bids / "derivatives" / "ground_truth" / "mask.nii.gz"), "--perm", "20", "--truth",
                 str(bids / "derivatives" / "ground_truth"), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Recovery of the planted layer-to-region mapping" in printed and "occipital_pole" in printed
    assert (out / "maps" / "winner_take_all.nii.gz").exists() and (out / "tables" / "dice.csv").exists()
    assert main(["searchlight", "--images", str(bids / "stimuli"), "--out", str(tmp_path / "x")]) == 2
    assert "--maps DIR" in capsys.readouterr().err


def test_searchlight_command_on_grayordinates(tmp_path, capsys, rng):
    """`syncact searchlight --maps X.dscalar.nii`: patterns over the left cortex's standard grayordinates, surface
    discs, maps written as dscalar files with the input's brain models; bad files are named before any work."""
    import nibabel as nib
    from nibabel.cifti2 import cifti2_axes as ax

    from syncact.brain.cifti import dscalar, standard_vertices
    from syncact.stimulus import natural_images

    _, names = natural_images(6, 64)
    models = ax.BrainModelAxis.from_surface(standard_vertices()["CIFTI_STRUCTURE_CORTEX_LEFT"], 32492, name="CortexLeft")
    path = tmp_path / "betas.dscalar.nii"
    dscalar(rng.normal(size=(6, models.size)), models, names).to_filename(path)
    out = tmp_path / "sl"
    args = ["searchlight", "--images", "natural:6", "--model", "efficientnet_lite0", "--layers", "block1", "block2",
            "--maps", str(path), "--radius", "6", "--perm", "10", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert "spheres of 6.0 mm" in capsys.readouterr().out
    written = nib.load(out / "maps" / "block1_similarity.dscalar.nii")
    assert written.header.get_axis(1) == models and written.shape == (1, models.size)
    assert (out / "maps" / "winner_take_all.dscalar.nii").exists()
    assert main(args) == 2 and "already" in capsys.readouterr().err  # never overwrites
    dscalar(rng.normal(size=(2, models.size)), models, names[:2]).to_filename(tmp_path / "two.dscalar.nii")
    assert main(args[:8] + ["--maps", str(tmp_path / "two.dscalar.nii"), "--out", str(tmp_path / "y")]) == 2
    assert "two.dscalar.nii" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_embed_command_in_one_process_and_on_two_with_torchrun(tiny_dataset, tmp_path, capsys, torchrun):
    """`syncact embed` writes a loadable model; the same command under torchrun --ddp (2 CPU processes) equals it."""
    import numpy as np

    from syncact.networks import FBNEmbedding

    assert main(["prepare", str(tiny_dataset.root), "--out", str(tmp_path / "p.zarr"), "--no-progress"]) == 0
    args = ["embed", str(tmp_path / "p.zarr"), "--n-networks", "4", "--n-heads", "2", "--epochs", "3", "--components", "16",
            "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert "on 1 process(es)" in capsys.readouterr().out
    one = FBNEmbedding.load(tmp_path / "one" / "model.pt")
    assert one.maps_.shape[0] == 4 and (tmp_path / "one" / "fbn_maps.nii.gz").is_file()
    done = torchrun("-m", "syncact.cli", *args, "--out", tmp_path / "two", "--ddp", port=29731)
    assert "on 2 process(es)" in done.stdout
    np.testing.assert_allclose(FBNEmbedding.load(tmp_path / "two" / "model.pt").maps_, one.maps_, atol=1e-5)


def test_embed_defaults_are_the_configs_and_the_estimators():
    from syncact.cli import build_parser
    from syncact.config import EmbeddingConfig
    from syncact.networks import FBNEmbedding

    args = build_parser().parse_args(["embed", "store.zarr", "--out", "x"])
    config, estimator = EmbeddingConfig(), FBNEmbedding().get_params()
    pairs = {"n_networks": "n_networks", "temporal": "temporal", "n_heads": "n_heads", "epochs": "n_epochs",
             "lr": "learning_rate", "batch_size": "batch_size", "components": "n_components", "patience": "patience",
             "identify": "identify"}
    for option, name in pairs.items():
        assert getattr(args, option) == getattr(config, name) == estimator[name], option
    assert args.split == ",".join(f"{f:g}" for f in config.split) and args.segment_length == config.segment_length


def test_encode_command_on_a_prepared_store(tiny_dataset, tmp_path, capsys):
    """activations -> prepare -> encode: maps and tables on the store's grid, the atlas table, clear refusals."""
    import nibabel as nib
    import numpy as np
    import pandas as pd

    acts = []
    for run, movie in tiny_dataset.movies.items():
        path = tmp_path / f"acts-{run}.npz"
        assert main(["activations", str(movie), "--tr", str(tiny_dataset.tr), "--timepoints", str(tiny_dataset.n_timepoints),
                     "--model", "efficientnet_lite0", "--weights", "imagenet", "--layers", "block3", "last_conv",
                     "--cache", "none", "--out", str(path), "--no-progress"]) == 0
        acts.append(f"{run}={path}")
    store = str(tmp_path / "p.zarr")
    assert main(["prepare", str(tiny_dataset.root), "--out", store, "--no-progress"]) == 0
    capsys.readouterr()
    args = ["encode", store, "--activations", *acts, "--components", "8", "--n-iter", "2", "--delays", "2", "3", "4",
            "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "enc")]) == 0
    out = capsys.readouterr().out
    assert "5 subjects, runs 1, 2, delays [2, 3, 4] TRs" in out and "Dosenbach 2010 networks" in out
    table = pd.read_csv(tmp_path / "enc" / "tables" / "encoding.csv")
    assert list(table["band"]) == ["block3", "last_conv"] and table["n_voxels"].iloc[0] == 29398
    assert table["false_positive_rate"].notna().all()
    networks = pd.read_csv(tmp_path / "enc" / "tables" / "encoding_networks.csv")
    assert set(networks["network"]) == {"cerebellum", "cingulo-opercular", "default", "fronto-parietal", "occipital",
                                        "sensorimotor"}
    r = nib.load(tmp_path / "enc" / "maps" / "r.nii.gz")
    assert r.shape[:3] == (50, 59, 48) and np.isfinite(np.asarray(r.dataobj)).all()  # the 4 mm MNI152 grid
    for name in ("r2", "ceiling", "ceiled_r", "ceiled_r_low", "ceiled_r_high", "winner", "r2_block3", "r2_last_conv"):
        assert (tmp_path / "enc" / "maps" / f"{name}.nii.gz").is_file(), name
    low, value, high = (np.asarray(nib.load(tmp_path / "enc" / "maps" / f"{n}.nii.gz").dataobj)
                        for n in ("ceiled_r_low", "ceiled_r", "ceiled_r_high"))
    defined = high > 0  # 0 where a leave-one-out ceiling is 0 (no ISC among the others): no interval
    assert defined.sum() > 100 and (low[defined] <= value[defined] + 1e-6).all()
    assert (value[defined] <= high[defined] + 1e-6).all() and (high > low).any()
    assert (tmp_path / "enc" / "maps" / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = (tmp_path / "enc" / "tables" / "encoding.csv").read_bytes()
    assert main([*args, "--out", str(tmp_path / "enc")]) == 2
    assert "holds an encoding result already" in capsys.readouterr().err
    assert (tmp_path / "enc" / "tables" / "encoding.csv").read_bytes() == before
    assert main(["encode", store, "--activations", acts[0].split("=")[1], "--out", str(tmp_path / "x")]) == 2
    assert "RUN=FILE" in capsys.readouterr().err
    assert main(["encode", store, "--activations", acts[0], acts[1].replace("2=", "7="), "--out", str(tmp_path / "x")]) == 2
    assert "runs ['7'] have features but are not in store" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
