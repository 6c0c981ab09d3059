"""`syncact demo-rsa --quick`: the second seed end to end on the simulated event-related experiment."""

import pandas as pd
import pytest

from syncact.demo import run_rsa_demo


def test_rsa_demo_quick(tmp_path, browse, check_quotes):
    result = run_rsa_demo(tmp_path / "rsa", quick=True, progress=False)
    overlap = result.overlap.set_index("set")
    assert list(overlap.index) == ["natural", "residual", "synthesized"]
    # natural photographs give correlated layer RDMs; the synthesis decorrelates them (0.70 vs 0.10 measured)
    assert overlap.loc["synthesized", "mean_abs_r"] < 0.5 * overlap.loc["natural", "mean_abs_r"]
    # the layer of the most anterior planted region is mapped there with every image set but the residuals
    mapping = result.mapping.set_index(["set", "layer"])
    for image_set in ("natural", "synthesized"):
        assert mapping.loc[(image_set, "block4"), "share_winner"] > 0.3
    for image_set in ("natural", "residual", "synthesized"):
        assert (tmp_path / "rsa" / image_set / "maps" / "winner_take_all.nii.gz").exists()
    assert len(list((tmp_path / "rsa" / "synthesis" / "images").glob("*.png"))) == 12
    saved = pd.read_csv(tmp_path / "rsa" / "tables" / "overlap.csv")
    assert saved["mean_abs_r"].tolist() == pytest.approx(result.overlap["mean_abs_r"].tolist())
    # the report: a summary quoted from the tables, every set's maps, the images; as a person would see it
    page = result.report_path.read_text()
    assert check_quotes(page, result.out_dir) == 2 * 3 + 2 * 3 + 3 + 3  # 4 sentences x 3 sets + 6 tiles
    for section in ("summary", "tables", "set-natural", "set-residual", "set-synthesized", "images", "methods"):
        assert f'<section id="{section}"' in page, section
    assert ">share_winner<" not in page and ">Planted layer wins (share)<" not in page  # human headers only
    facts = browse(result.report_path, "report-rsa")
    assert not facts["problems"] and facts["outside_requests"] == [] and facts["broken"] == []
    assert facts["page_width"] <= 1280 and facts["too_wide"] == [] and facts["toc_links"] == 7
    assert facts["sorted_first_column"] == sorted(facts["sorted_first_column"])
    assert set(facts["screenshots"]) == {"top", "table", "card"}
    with pytest.raises(FileExistsError):
        run_rsa_demo(tmp_path / "rsa", quick=True, progress=False)
