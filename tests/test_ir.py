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


# ------------------------------------------------------------------ validation of content: schema bounds, finiteness


@pytest.mark.parametrize("op,shape,params,attrs,fragment", [
    ("Conv", (1, 8, 8), [np.ones((2, 1, 3, 3), np.float32)], {"strides": (0, 1)}, "'strides'=(0, 1) must be >= 1"),
    ("Conv", (1, 8, 8), [np.ones((2, 1, 3, 3), np.float32)], {"dilations": (1, -2)}, "'dilations'=(1, -2) must be"),
    ("Conv", (1, 8, 8), [np.ones((2, 1, 3, 3), np.float32)], {"pads": (1, 1, 1)}, "'pads'=(1, 1, 1) needs 4 values"),
    ("Conv", (1, 8, 8), [np.ones((2, 1, 3, 3), np.float32)], {"pads": (-1, 0, 0, 0)}, "must be >= 0"),
    ("Conv", (1, 8, 8), [np.ones((2, 1, 3, 3), np.float32)], {"group": 0}, "'group'=0 must be >= 1"),
    ("Conv", (1, 8, 8), [np.ones((2, 1, 3, 3), np.float32)], {"kernel_shape": (3,)}, "needs 2 values, got 1"),
    ("Conv", (1, 8, 8), [np.ones((0, 1, 3, 3), np.float32)], {}, "non-empty 4-D parameter"),
    ("AveragePool", (1, 8, 8), [], {"kernel_shape": (0, 2)}, "'kernel_shape'=(0, 2) must be >= 1"),
    ("MaxPool", (1, 8, 8), [], {"kernel_shape": (2, 2), "pads": (2, 0, 0, 0)}, "must be smaller than the window"),
    ("Gemm", (4,), [np.ones((3, 0), np.float32)], {}, "non-empty 2-D parameter"),
    ("Gemm", (4,), [np.ones((3, 4), np.float32)], {"alpha": float("inf")}, "'alpha'=inf is not finite"),
    ("BatchNormalization", (2, 3, 3), [np.ones(2), np.zeros(2), np.zeros(2), -np.ones(2)], {},
     "var + epsilon must be > 0"),
    ("Reshape", (2, 3), [np.array([0, 6.0])], {}, "target shape must be a 1-D integer tensor"),
    ("Add", (4,), [np.ones((3, 4), np.float32)], {}, "does not broadcast per sample"),
    ("IF", (4,), [], {"v_th": float("nan")}, "'v_th'=nan is not finite"),
    ("LIF", (4,), [], {"v_th": 1.0, "v_decay": 1.5}, "'v_decay'=1.5 must be <= 1"),
    ("DirectEncode", (4,), [], {"num_steps": 0}, "'num_steps'=0 must be >= 1"),
    ("RateEncode", (4,), [], {"num_steps": 4, "seed": -1}, "'seed'=-1 must be >= 0"),
    ("Quantize", (4,), [], {"scale": 1.0, "bits": 40}, "'bits'=40 must be <= 32"),
])
def test_op_schemas_and_shape_rules_refuse_meaningless_values(op, shape, params, attrs, fragment):
    timed = op in ("IF", "LIF")
    with pytest.raises(GraphError) as err:
        single_op_graph(op, shape, params, attrs, timed=timed)
    assert f"node ({op})" in str(err.value) and fragment in str(err.value)


def test_non_finite_parameters_are_all_named_with_their_consumers():
    g = Graph([], {"x": TensorType((4,))}, ["b"])
    w = g.add_param("w", np.array([[np.nan, 1, 2, 3]] * 3, np.float32))
    bias = g.add_param("bias", np.array([np.inf, 0, 0], np.float32))
    g.nodes = [Node("Gemm", "fc1", ["x", w], ["a"], {"transB": 1}),
               Node("Gemm", "fc2", ["x", w, bias], ["b"], {"transB": 1})]
    with pytest.raises(GraphError) as err:
        check_graph(g)
    assert err.value.problems == [
        "parameter 'w' (used by fc1 (Gemm), fc2 (Gemm)) is not finite: 3 NaN and 0 Inf of 12 values",
        "parameter 'bias' (used by fc2 (Gemm)) is not finite: 0 NaN and 1 Inf of 3 values"]


def test_non_real_parameters_are_refused():
    g = single_op_graph("Relu", (4,))
    g.nodes.append(Node("Add", "add", ["out", g.add_param("c", np.ones(4, np.complex64))], ["sum"]))
    g.outputs = ["sum"]
    with pytest.raises(GraphError, match=r"parameter 'c' \(used by add \(Add\)\) has element type complex64"):
        check_graph(g)


def test_graph_outputs_and_inputs_are_checked():
    g = Graph([], {"x": TensorType((4,)), "z": TensorType((0, 2))}, ["x", "w", "out", "out"])
    g.params["w"] = np.ones(4, np.float32)
    g.nodes = [Node("Relu", "r", ["x"], ["out", "extra"])]
    with pytest.raises(GraphError) as err:
        check_graph(g)
    problems = "\n".join(err.value.problems)
    for expected in ("r (Relu): has 1..1 (named) outputs, got ['out', 'extra']", "graph output 'out' is listed twice",
                     "graph output 'w' is a parameter", "graph output 'x' is a graph input",
                     "graph input 'z' has per-sample shape [0, 2]"):
        assert expected in problems
    with pytest.raises(GraphError, match="the graph has no outputs"):
        check_graph(Graph([Node("Relu", "r", ["x"], ["y"])], {"x": TensorType((4,))}, []))


def test_attribute_messages_stay_on_one_line():
    g = single_op_graph("Relu", (4,))
    g.nodes[0].op = "IF"
    g.nodes[0].attrs = {"v_th": onnx.helper.make_tensor("t", onnx.TensorProto.FLOAT, [100], [1.0] * 100)}
    g.inputs["x"] = TensorType((4,), timed=True)
    with pytest.raises(GraphError) as err:
        check_graph(g)
    assert err.value.problems == ["node (IF): attribute 'v_th'=<TensorProto> is not of type float"]
