"""The digits SNN trained with neurodeploy.nn, compiled: its build's ``snn.nir`` read back by neurodeploy and by
Norse 1.1.0 (from_nir) gives the same spikes as the float SNN of the build (``snn.onnx``), at the same dt."""
import nir
import numpy as np
import pytest
from test_nir import norse_steps

from neurodeploy.pipeline import CompileRequest, compile_model
from neurodeploy.data import load_digits_dataset
from neurodeploy.frontend.nir_import import load_nir
from neurodeploy.frontend.onnx_import import load_onnx
from neurodeploy.ir import reference


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits_snn") / "build"
    report = compile_model(CompileRequest(model="digits_snn", output=out, target="ref"),
                           say=lambda _: None)
    return out, report


def _analog_steps(snn, x):
    """What snn.nir's input is: the analog sample at each of the T steps (the encoder stays outside NIR)."""
    steps = snn.find("DirectEncode")[0].attrs["num_steps"]
    return np.broadcast_to(x, (steps,) + x.shape).astype(np.float32).copy()


def test_digits_snn_accuracy_in_the_build(build):
    _, report = build
    assert report["snn"]["accuracy"] >= 0.95 and report["snn"]["coding"] == "trained"


def test_snn_nir_reads_back_with_the_same_spikes(build):
    out, _ = build
    snn = load_onnx(out / "snn.onnx")
    back = load_nir(out / "snn.nir")
    x = load_digits_dataset().x_test[:40]
    lifs = [n.outputs[0] for n in snn.find("LIF")]
    want = reference.run(snn, {next(iter(snn.inputs)): x}, keep=lifs)
    back_lifs = [n.outputs[0] for n in back.find("LIF")]
    got = reference.run(back, {next(iter(back.inputs)): _analog_steps(snn, x)}, keep=back_lifs)
    assert len(back_lifs) == len(lifs) == 2
    for a, b in zip(lifs, back_lifs):
        np.testing.assert_array_equal(got[b], want[a])
    np.testing.assert_allclose(got[back.outputs[0]], want[snn.outputs[0]], rtol=1e-4, atol=1e-4)
    assert (got[back.outputs[0]].argmax(1) == want[snn.outputs[0]].argmax(1)).all()


def test_snn_nir_runs_in_norse_with_the_same_spikes(build):
    out, _ = build
    snn = load_onnx(out / "snn.onnx")
    graph = nir.read(out / "snn.nir")
    lif_nodes = [k for k, n in graph.nodes.items() if isinstance(n, (nir.LIF, nir.CubaLIF))]
    x = load_digits_dataset().x_test[:12]
    lifs = [n.outputs[0] for n in snn.find("LIF")]
    want = reference.run(snn, {next(iter(snn.inputs)): x}, keep=lifs)
    # one sample at a time: Norse applies NIR's Flatten to the batched tensor (docs/nir.md)
    _, hidden = norse_steps(graph, _analog_steps(snn, x), load_nir(out / "snn.nir").meta["time"]["dt"],
                            keep=lif_nodes, batched=False)
    assert len(lif_nodes) == 2
    for node, value in zip(sorted(lif_nodes), lifs):
        np.testing.assert_array_equal(hidden[node], want[value].reshape(hidden[node].shape))
