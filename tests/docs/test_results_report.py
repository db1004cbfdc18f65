"""The results report: ``benchmarks/results_md.py`` regenerates ``benchmarks/RESULTS.md``, every
plot it embeds and the measured blocks of the method pages from the JSON files alone, and the
committed copies are what it produces (nothing typed in, nothing stale)."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import measured  # noqa: E402
import plots  # noqa: E402
import results_md  # noqa: E402

_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report, plots and method pages rendered from a copy of the committed JSON files."""
    root = tmp_path_factory.mktemp("report")
    (root / "results").mkdir()
    for path in (BENCH / "results").glob("*.json"):
        shutil.copy(path, root / "results" / path.name)
    shutil.copytree(REPO / "docs" / "methods", root / "methods")
    results_md.write_results_md(root / "results", root / "RESULTS.md", root / "methods")
    return root


def test_results_md_is_reproduced_from_the_json_files(rendered: Path) -> None:
    assert (rendered / "RESULTS.md").read_text() == (BENCH / "RESULTS.md").read_text(), (
        "benchmarks/RESULTS.md is stale: run `python benchmarks/results_md.py`")


def test_every_embedded_plot_is_drawn_small_and_committed(rendered: Path) -> None:
    links = _IMAGE.findall((rendered / "RESULTS.md").read_text())
    assert len(links) >= 5, "the report embeds the training and scaling plots"
    for link in links:
        drawn, committed = rendered / link, BENCH / link
        assert drawn.read_bytes()[:8] == PNG_SIGNATURE, f"{link} was not drawn as a PNG"
        assert drawn.stat().st_size < 150_000, f"{link} is larger than a report plot should be"
        assert committed.is_file(), f"{committed} is missing: run `python benchmarks/results_md.py`"


def test_no_stale_plot_is_left_in_the_results_folder() -> None:
    embedded = {Path(link).name for link in _IMAGE.findall((BENCH / "RESULTS.md").read_text())}
    on_disk = {p.name for p in (BENCH / "results").glob("*.png")}
    assert on_disk <= embedded, f"plots no section embeds: {sorted(on_disk - embedded)}"


def test_method_pages_hold_the_measured_figures_of_the_json_files(rendered: Path) -> None:
    for page in measured.BLOCKS:
        committed = REPO / "docs" / "methods" / f"{page}.md"
        assert (rendered / "methods" / f"{page}.md").read_text() == committed.read_text(), (
            f"the measured block of {committed} is stale: run `python benchmarks/results_md.py`")


def test_measured_block_shows_a_json_figure_exactly(rendered: Path) -> None:
    """A figure taken from the JSON appears, formatted, on the page (the block is not empty)."""
    import json

    grace = json.loads((BENCH / "results" / "grace_cora.json").read_text())
    text = (rendered / "methods" / "grace.md").read_text()
    assert f"{100 * grace['test_acc_mean']:.1f} ± {100 * grace['test_acc_std']:.1f}" in text


def test_a_page_without_its_markers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "grace.md").write_text("# GRACE\n\nno block here\n")
    with pytest.raises(ValueError, match="grace.md must hold exactly one"):
        measured.update_pages(tmp_path, BENCH / "results")


def _grace_record(with_curve: bool) -> dict:
    run = {"seed": 0, "test_acc": 0.8, "val_acc": 0.79, "selected_epoch": 20}
    if with_curve:
        run["curve"] = {"epoch": list(range(1, 31)), "loss": [8.0 - 0.05 * e for e in range(30)],
                        "val_epoch": [10, 20, 30], "val_acc": [0.70, 0.79, 0.78]}
    return {"title": "GRACE", "config": {"eval_every": 10}, "runs": [run]}


def test_grace_curves_are_drawn_only_from_recorded_histories(tmp_path: Path) -> None:
    png = tmp_path / "grace.png"
    assert plots.grace_curves(_grace_record(False), png) is None and not png.exists()
    caption = plots.grace_curves(_grace_record(True), png)
    assert caption is not None and "(seeds 0)" in caption and "every 10 epochs" in caption
    first = png.read_bytes()
    assert first[:8] == PNG_SIGNATURE
    plots.grace_curves(_grace_record(True), png)
    assert png.read_bytes() == first, "the same record must give the same file"
