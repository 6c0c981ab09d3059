import subprocess
import sys

import pytest

from syncact.cli import main


@pytest.mark.parametrize("command", ["demo", "run", "simulate", "layers", "models"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: syncact" in capsys.readouterr().out


def test_layers_lists_aliases(capsys):
    assert main(["layers", "efficientnet_lite0"]) == 0
    out = capsys.readouterr().out
    assert "block3" in out and "_blocks.10" in out and "last_conv" in out


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("syncact: error: config file") and "missing.toml" in err
    assert main(["layers", "vgg99"]) == 2


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "syncact.cli", "models"], capture_output=True, text=True, check=True)
    assert "efficientnet_lite0" in out.stdout and "resnet18" in out.stdout
