"""Every kind of report.html (one build, ``--target all``, ``codings``, ``benchmark``) opened in headless Chromium:
no console error, no network request, every figure loaded and not blank, and a full-page screenshot written
(into $NEURODEPLOY_SCREENSHOTS when set, to look at; else the test's folder)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from browser import check_page, chromium_skip_reason

pytestmark = pytest.mark.skipif(chromium_skip_reason() is not None, reason=str(chromium_skip_reason()))


def _screenshot(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("NEURODEPLOY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def _check(page: Path, screenshot: Path, captions: list[str]) -> None:
    text = page.read_text()
    assert not re.search(r'(src|href)="(?!data:)', text), "the page refers to a file or URL outside itself"
    for caption in captions:
        assert caption in text, caption
    result = check_page(page, screenshot)
    assert result.console_errors == [] and result.requests == []
    assert len(result.figures) == text.count("<figure") > 0
    bad = [f for f in result.figures if not f.loaded or f.blank or f.width < 200 or f.height < 100]
    assert bad == [], bad
    assert result.screenshot is not None and result.screenshot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def all_targets(tmp_path_factory):
    from neurodeploy.cli import main

    out = tmp_path_factory.mktemp("html") / "all"
    assert main(["compile", "digits_mlp", "--target", "all", "-o", str(out), "--eval-samples", "40", "--quiet"]) == 0
    return out


def test_target_all_page_shows_every_figure_in_a_browser(all_targets, tmp_path):
    chips = ("loihi1", "loihi2", "truenorth", "spinnaker1", "spinnaker2")
    captions = ["Accuracy per target", "Energy, latency and cores", "Spike raster", "Spikes per neuron",
                "Activity before and after quantization", "8 x 4 tiles of 4 cores", "splitters",
                "application cores on"] + [f"<h2>{t}</h2>" for t in chips]
    _check(all_targets / "report.html", _screenshot(tmp_path, "target-all"), captions)
    assert (all_targets / "report.html").read_text().count("Core map:") == len(chips)


@pytest.mark.parametrize("target", ["ref", "loihi2", "truenorth", "spinnaker1"])
def test_build_page_in_a_browser(all_targets, tmp_path, target):
    captions = ["Accuracy:", "Spike raster", "Spikes per neuron"]
    captions += [] if target == "ref" else ["Core map:", "Energy, latency and cores", "Activity before and after"]
    _check(all_targets / target / "report.html", _screenshot(tmp_path, f"build-{target}"), captions)


def test_codings_page_in_a_browser(tmp_path):
    from neurodeploy.cli import main

    out = tmp_path / "codings"
    assert main(["codings", "digits_mlp", "-o", str(out), "--rate-steps", "4,8", "--ttfs-steps", "4",
                 "--sc-ttfs-steps", "2", "--tolerance", "100", "--finetune-epochs", "1", "--eval-samples", "20",
                 "--quiet"]) == 0
    _check(out / "report.html", _screenshot(tmp_path, "codings"),
           ["Accuracy against latency", "Accuracy against spikes per inference", "Normalized energy"])


def test_benchmark_page_in_a_browser(tmp_path):
    """The benchmark's page from a benchmark report's rows (a real benchmark run trains twelve networks: minutes)."""
    import json

    from helpers import benchmark_report
    from neurodeploy.buildfolder import report_json
    from neurodeploy.report.html import benchmark_html

    # as neurodeploy benchmark writes it (report_json checks it against the schema in the tests)
    report = json.loads(report_json({**benchmark_report(), "files": {"benchmark.md": "0" * 64}}))
    page = tmp_path / "report.html"
    page.write_text(benchmark_html(report))
    _check(page, _screenshot(tmp_path, "benchmark"),
           ["Accuracy of each model", "Memory per papers/000", "Energy per inference of each model",
            "Accuracy over T", "Accuracy over the threshold"])
