"""The headless-Chromium page checker (tests/browser.py) on synthetic pages whose answers are known."""
from __future__ import annotations

import base64
import io

import pytest

from browser import check_page, chromium_skip_reason


@pytest.fixture(autouse=True)
def _needs_chromium():
    if (reason := chromium_skip_reason()) is not None:
        pytest.skip(reason)


def png_data_url(draw) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3, 2), dpi=80)
    draw(axes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def plot(axes) -> None:
    axes.plot([0, 1, 2, 3], [0, 1, 4, 9])
    axes.set_title("a real plot")


def nothing(axes) -> None:
    axes.set_axis_off()   # an all-white PNG: what a figure that failed to draw looks like


def test_self_contained_page_has_clean_console_no_requests_and_sees_blank_figures(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>synthetic</title></head><body>
<figure><img class="figure" id="plot" src="{png_data_url(plot)}"><figcaption>plot</figcaption></figure>
<figure><img class="figure" id="empty" src="{png_data_url(nothing)}"><figcaption>empty</figcaption></figure>
<figure><svg id="vector" width="120" height="80"><circle cx="40" cy="40" r="30" fill="steelblue"/></svg></figure>
</body></html>""")

    check = check_page(page, tmp_path / "shots" / "page.png")

    assert check.console_errors == []
    assert check.requests == []
    figures = {figure.label: figure for figure in check.figures}
    assert sorted(figures) == ["empty", "plot", "vector"]
    assert all(figure.loaded for figure in check.figures)
    assert (figures["plot"].width, figures["plot"].height) == (240, 160)   # 3 x 2 inches at 80 dpi
    assert not figures["plot"].blank
    assert figures["empty"].blank
    assert not figures["vector"].blank
    assert check.screenshot.read_bytes().startswith(b"\x89PNG")


def test_console_errors_and_outside_requests_are_reported(tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text("""<!doctype html><html><body>
<script>console.error("boom")</script>
<img class="figure" id="remote" src="http://example.invalid/x.png">
</body></html>""")

    check = check_page(page, tmp_path / "leaky.png")

    assert any("boom" in error for error in check.console_errors)
    assert check.requests == ["http://example.invalid/x.png"]   # recorded although it cannot succeed
    assert [(figure.label, figure.loaded) for figure in check.figures] == [("remote", False)]
