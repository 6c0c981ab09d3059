"""The page helpers: embedded images decode, user text is escaped, the CSP hash is the script's."""

import base64
import hashlib

import numpy as np
import pytest

from syncact.report import data_uri, figures, render_page, script_hash
from syncact.report.html import json_default, number


def test_data_uri_round_trips_the_bytes():
    png = figures.correlation_matrix(np.eye(3), "r")
    uri = data_uri(png)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_script_hash_is_the_csp_sha256_of_the_script():
    script = "console.log('x');"
    assert script_hash(script) == "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def test_json_helpers():
    assert json_default(np.float32(0.5)) == 0.5 and json_default(np.int64(3)) == 3 and json_default(np.bool_(True)) is True
    with pytest.raises(TypeError):
        json_default(object())
    assert number(None) is None and number(np.nan) is None and number(np.float64(2.0)) == 2.0


def test_render_page_escapes_the_context(tmp_path):
    from syncact.experiment.report import SCRIPT

    context = {"name": '<b>"x"</b>', "script": SCRIPT, "script_hash": script_hash(SCRIPT), "sections": [],
               "pairing": {"alpha": 0.05, "hrf": "none", "alternative": "greater", "fdr": "bh", "confidence": 0.95},
               "split": {}, "timings": {}, "methods": ["<i>methods</i>"], "map_css": ""}
    path = render_page("report.html", tmp_path / "page.html", **context)
    text = path.read_text()
    assert "&lt;b&gt;" in text and '<b>"x"</b>' not in text and "&lt;i&gt;methods" in text
    assert SCRIPT.strip()[:40] in text
    assert "Pairing options: alpha = 0.05; hrf = none; alternative = greater; fdr = bh; confidence = 0.95." in text
