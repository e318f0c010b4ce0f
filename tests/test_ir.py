"""The IR: checker, shape inference, .onnx save/load round trips, feed validation."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from neurodeploy.errors import GraphError, InputError
from neurodeploy.frontend.onnx_import import load_onnx
from neurodeploy.ir import reference
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.ir.onnx_file import save_onnx
from neurodeploy.ir.ops import OPS, resolve_attrs

from helpers import single_op_graph


def _snn_with_every_neuro_op() -> Graph:
    """x -> RateEncode -> Gemm -> LIF -> SpikeCount, and Gemm -> MembraneReadout; also DirectEncode -> IF."""
    g = Graph([], {"x": TensorType((4,))}, ["count", "membrane", "direct_count"], name="every_neuro_op")
    w = g.add_param("w", np.random.randn(3, 4).astype(np.float32))
    g.nodes = [
        Node("RateEncode", "enc", ["x"], ["s"], {"num_steps": 8, "distribution": "poisson", "gain": 0.7, "seed": 5}),
        Node("Gemm", "fc", ["s", w], ["i"], {"transB": 1}),
        Node("LIF", "lif", ["i"], ["o"], {"v_th": 0.3, "v_decay": 0.1, "i_decay": 0.25, "reset": "zero", "dt": 1e-3}),
        Node("SpikeCount", "count_node", ["o"], ["count"]),
        Node("MembraneReadout", "mem", ["i"], ["membrane"], {"v_decay": 0.05}),
        Node("DirectEncode", "direct", ["x"], ["d"], {"num_steps": 8}),
        Node("IF", "if", ["d"], ["ds"], {"v_th": 0.6, "v_init": 0.1}),
        Node("SpikeCount", "direct_count_node", ["ds"], ["direct_count"]),
    ]
    check_graph(g)
    return g


def _assert_same_graph(a: Graph, b: Graph) -> None:
    assert [n.op for n in a.nodes] == [n.op for n in b.nodes]
    assert [(n.name, n.inputs, n.outputs) for n in a.nodes] == [(n.name, n.inputs, n.outputs) for n in b.nodes]
    for na, nb in zip(a.nodes, b.nodes):
        assert na.attrs == nb.attrs, na.name
        assert resolve_attrs(OPS[na.op], na) == resolve_attrs(OPS[nb.op], nb), na.name
    assert a.params.keys() == b.params.keys()
    for name in a.params:
        assert a.params[name].dtype == b.params[name].dtype, name
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert a.inputs == b.inputs and a.outputs == b.outputs
    assert {v: a.types[v] for v in b.types} == b.types


def test_save_load_round_trip_spiking_graph(tmp_path):
    g = _snn_with_every_neuro_op()
    path = save_onnx(g, tmp_path / "snn.onnx")
    onnx.checker.check_model(onnx.load(str(path)))
    loaded = load_onnx(path)
    _assert_same_graph(g, loaded)
    x = np.random.rand(3, 4).astype(np.float32)
    for name, value in reference.run(g, {"x": x}).items():
        np.testing.assert_array_equal(value, reference.run(loaded, {"x": x})[name])


def test_saved_file_uses_onnx_names_and_custom_domain(tmp_path):
    model = onnx.load(str(save_onnx(_snn_with_every_neuro_op(), tmp_path / "snn.onnx")))
    domains = {n.op_type: n.domain for n in model.graph.node}
    assert domains["Gemm"] == "" and domains["LIF"] == "ai.neurodeploy"
    assert {o.domain: o.version for o in model.opset_import} == {"": 17, "ai.neurodeploy": 1}
    dims = [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["N", 3]


def test_round_trip_of_converted_digits_cnn(tmp_path, digits):
    from neurodeploy.frontend import load_model
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage

    ctx = PassContext(ConversionConfig(num_steps=8), calibration=digits.x_train[:64], check=True)
    snn = run_passes(load_model("digits_cnn").graph, stage("canonicalize") + stage("rate"), ctx)
    loaded = load_onnx(save_onnx(snn, tmp_path / "snn.onnx"))
    _assert_same_graph(snn, loaded)
    assert loaded.meta["passes"] == snn.meta["passes"]
    assert loaded.meta["thresholds"] == pytest.approx(snn.meta["thresholds"])


def test_checker_lists_every_problem():
    g = Graph([], {"x": TensorType((4,))}, ["y", "missing"])
    g.nodes = [
        Node("Frobnicate", "a", ["x"], ["t"]),
        Node("IF", "b", ["x"], ["y"], {"v_th": 1.0, "bogus": 2}),
        Node("Relu", "c", ["nowhere"], ["y"]),
    ]
    with pytest.raises(GraphError) as err:
        check_graph(g)
    problems = "\n".join(err.value.problems)
    for expected in ("a (Frobnicate): unknown op", "b (IF): unknown attribute 'bogus'",
                     "c (Relu): input 'nowhere' is not defined", "output 'y' is defined twice",
                     "graph output 'missing' is not produced"):
        assert expected in problems
    assert len(err.value.problems) == 5


def test_shape_inference_names_the_node():
    with pytest.raises(GraphError, match=r"node \(Conv\): input has 3 channels but weight \[8, 1, 3, 3\]"):
        single_op_graph("Conv", (3, 8, 8), [np.zeros((8, 1, 3, 3), np.float32)])
    with pytest.raises(GraphError, match=r"node \(IF\): input must have a time axis"):
        single_op_graph("IF", (4,), attrs={"v_th": 1.0})


def test_reference_rejects_wrong_input_shape():
    g = single_op_graph("Relu", (1, 8, 8))
    with pytest.raises(InputError, match=r"input 'x' expects shape \[N, 1, 8, 8\], got \[2, 3, 32, 32\]"):
        reference.run(g, {"x": np.zeros((2, 3, 32, 32), np.float32)})


def test_copy_is_independent():
    g = _snn_with_every_neuro_op()
    c = g.copy()
    c.nodes[0].attrs["seed"] = 9
    c.nodes[1].inputs[0] = "x"
    assert g.nodes[0].attrs["seed"] == 5 and g.nodes[1].inputs[0] == "s"


def test_run_batched_keeps_timed_values_in_sample_order():
    from neurodeploy.sim.evaluate import run_batched

    g = _snn_with_every_neuro_op()
    x = np.random.rand(7, 4).astype(np.float32)
    whole = reference.run(g, {"x": x}, keep=["d", "ds"])  # deterministic timed values (not RateEncode's)
    chunked = run_batched(g, x, keep=["d", "ds"], memory_budget=1)  # one sample per chunk
    assert chunked["ds"].shape == whole["ds"].shape == (8, 7, 4)
    np.testing.assert_array_equal(chunked["d"], whole["d"])
    np.testing.assert_array_equal(chunked["ds"], whole["ds"])
