"""report.html and what it draws: the activity block (raster and histograms) against an independent run, the core
maps against the mappings, the page's figures, and the human labels of report.md (the browser checks are in
hw_tests/test_html_report.py)."""
from __future__ import annotations

import importlib
import json
import re

import numpy as np
import pytest


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    from neurodeploy.cli import main

    out = tmp_path_factory.mktemp("html") / "b"
    assert main(["compile", "digits_mlp", "--target", "loihi2", "-o", str(out), "--eval-samples", "30",
                 "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def sc_ttfs_build(tmp_path_factory):
    """A build whose layers each emit two spike trains (SC-TTFS: encoding and calibration)."""
    from neurodeploy.cli import main

    out = tmp_path_factory.mktemp("html") / "sc"
    assert main(["compile", "digits_mlp", "--target", "ref", "--coding", "sc-ttfs", "--steps", "2",
                 "--finetune-epochs", "0", "-o", str(out), "--eval-samples", "20", "--quiet"]) == 0
    return out


@pytest.mark.parametrize("which, target, graph", [("build", "loihi2", "deployed.onnx"),
                                                   ("sc_ttfs_build", "ref", "snn.onnx")])
def test_activity_block_is_the_first_samples_spikes(which, target, graph, digits, request):
    """The raster of every layer is sample 0's spikes, one event per spike of any of the layer's trains, as the
    target's simulator gives them on its own; the histograms count every neuron once."""
    from neurodeploy.backends import get_backend
    from neurodeploy.frontend.onnx_import import load_onnx
    from neurodeploy.sim.evaluate import RASTER_NEURONS, chunk_size, spike_outputs, spiking_nodes

    folder = request.getfixturevalue(which)
    report = json.loads((folder / "report.json").read_text())
    g = load_onnx(folder / graph)
    nodes = {n.name: n for n in spiking_nodes(g)}
    # the evaluation's first chunk again, not sample 0 alone: a float simulator's sums may round differently for
    # another batch size, and a value at the threshold would then spike in one run only
    first_chunk = digits.x_test[:min(report["test_samples"], chunk_size(g))]
    out = get_backend(target).simulate(g, {next(iter(g.inputs)): first_chunk},
                                       [v for n in nodes.values() for v in spike_outputs(n)])
    assert report["activity"]["sample"] == 0 and report["activity"]["layers"]
    for layer in report["activity"]["layers"]:
        trains = [out[v][:, 0].reshape(out[v].shape[0], -1) != 0 for v in spike_outputs(nodes[layer["layer"]])]
        raster, hist = layer["raster"], layer["spikes_per_neuron"]
        shown = np.sum([train[:, raster["neuron_index"]] for train in trains], axis=0)
        assert len(raster["step"]) == shown.sum() and np.bincount(
            np.ravel_multi_index((raster["step"], raster["neuron"]), shown.shape), minlength=shown.size).tolist() \
            == shown.ravel().tolist()
        assert raster["neurons_shown"] == min(layer["neurons"], RASTER_NEURONS) == len(raster["neuron_index"])
        assert sum(hist["counts"]) == layer["neurons"] and len(hist["edges"]) == len(hist["counts"]) + 1
        assert layer["steps"] == shown.shape[0] and 0 <= layer["silent_neurons"] <= hist["counts"][0]
    if which == "sc_ttfs_build":  # both trains counted: some neuron fires in both at one step
        assert len(spike_outputs(nodes[report["activity"]["layers"][0]["layer"]])) == 2


@pytest.mark.parametrize("target", ["loihi1", "loihi2", "truenorth", "spinnaker1"])
def test_core_maps_hold_every_core_of_the_mapping(target, digits):
    from neurodeploy.backends import get_backend

    backend = get_backend(target)
    family = {"loihi1": "loihi", "loihi2": "loihi", "spinnaker1": "spinnaker"}.get(target, target)
    mapping_module = importlib.import_module(f"neurodeploy.backends.{family}.mapping")
    mapping = mapping_module.map_to_cores(_deployed(backend, "digits_cnn", digits), backend.spec)
    drawn = mapping_module.core_map(mapping, backend.spec)
    assert all(0 <= c[1] < drawn["rows"] and 0 <= c[2] < drawn["columns"] for c in drawn["cells"])
    if drawn["kind"] == "counts":  # SpiNNaker: cores used per chip
        assert sum(c[3] for c in drawn["cells"]) == mapping.cores and len(drawn["cells"]) == mapping.chips
        return
    assert len({tuple(c[:3]) for c in drawn["cells"]}) == len(drawn["cells"]) == mapping.cores  # one cell per core
    per_label = np.bincount([c[3] for c in drawn["cells"]], minlength=len(drawn["labels"])).tolist()
    if target == "truenorth":
        assert per_label[-1] == mapping.splitter_cores and drawn["labels"][-1] == "splitters"
        assert per_label[:-1] == [p.cores - p.splitter_cores for p in mapping.layers]
    else:
        assert per_label == [layer.cores for layer in mapping.layers]


def _deployed(backend, name, digits):
    from neurodeploy.frontend import load_model
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage

    ctx = PassContext(ConversionConfig(**{"num_steps": 8, **backend.conversion_defaults()}),
                      calibration=digits.x_train[:128], spec=backend.spec)
    ann = run_passes(load_model(name).graph, stage("canonicalize"), ctx)
    return run_passes(ann, stage("rate") + backend.passes(), ctx)


def test_page_is_self_contained_and_reproducible(build):
    from neurodeploy.report.html import build_html

    page = (build / "report.html").read_text()
    report = json.loads((build / "report.json").read_text())
    assert "report.html" in report["files"]
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page
    assert page.count('<img class="figure"') == page.count("<figure") == 6
    for caption in ("Accuracy:", "Energy, latency and cores", "Core map:", "Spike raster", "Spikes per neuron",
                    "Activity before and after quantization"):
        assert caption in page
    from neurodeploy.report import figures

    figures._DRAWN.clear()  # drawn again, not served from this process's cache
    assert build_html(report) == page  # the same report draws the same bytes


def test_report_md_labels_have_units_and_a_legend(build):
    text = (build / "report.md").read_text()
    assert "chip energy per inference, total (µJ)" in text and "latency per inference (µs)" in text
    assert "| spikes per sample, float SNN (count) |" in text and "| weights clipped (% of weights) |" in text
    assert "- **threshold (integer)**: " in text and "Shown as % of the layer's weights." in text
    assert "energy uj" not in text and "_uj" not in text.split("## Passes")[0]
