"""Front-ends: torch.fx and ONNX import agree with torch; unsupported input is reported completely."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper as oh, numpy_helper
from torch import nn

from neurodeploy.errors import GraphError, InputError, NeurodeployError, UnsupportedError
from neurodeploy.frontend import load_model, load_state_dict
from neurodeploy.frontend.onnx_import import NEWEST_OPSET, OLDEST_OPSET, load_onnx
from neurodeploy.frontend.torch_fx import from_torch
from neurodeploy.ir import reference
from neurodeploy.models import ZOO

from helpers import torch_output


def _randomize_batchnorm(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return module.eval()


def _ir_output(g, x):
    return reference.run(g, {next(iter(g.inputs)): x})[g.outputs[0]]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_models_import_and_match_torch(name):
    entry = ZOO[name]
    module = _randomize_batchnorm(entry.build())
    g = from_torch(module, entry.input_shape, name)
    if next(iter(g.inputs.values())).timed:  # a spike-input SNN takes [T, N, ...] spike trains
        x = (np.random.default_rng(0).random((12, 2, *entry.input_shape)) < 0.3).astype(np.float32)
    else:
        x = np.random.rand(2, *entry.input_shape).astype(np.float32)
    expected = torch_output(module, x)
    np.testing.assert_allclose(_ir_output(g, x), expected, atol=1e-5 * max(1.0, np.abs(expected).max()))


class FunctionalNet(nn.Module):
    """Residual add, functional relu/flatten, view(x.size(0), -1), grouped/dilated/'same' convs, BN1d."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 8, 3, padding="same", dilation=2)
        self.b = nn.Conv2d(8, 8, 3, padding=1, groups=4, stride=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(32, 6)
        self.bn = nn.BatchNorm1d(6)

    def forward(self, x):
        y = F.relu(self.a(x))
        y = torch.relu(self.b(y) + y)
        y = self.pool(y)
        y = y.view(y.size(0), -1)
        return self.bn(self.fc(torch.flatten(y, 1)))


def test_functional_operations_match_torch():
    module = _randomize_batchnorm(FunctionalNet())
    x = np.random.rand(3, 4, 8, 8).astype(np.float32)
    g = from_torch(module, (4, 8, 8))
    assert [n.op for n in g.nodes].count("Add") == 1
    np.testing.assert_allclose(_ir_output(g, x), torch_output(module, x), atol=1e-5)


class ManyUnsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.act = nn.Sigmoid()
        self.up = nn.Upsample(scale_factor=2)
        self.fc = nn.Linear(4 * 12 * 12 * 2, 3)

    def forward(self, x):
        y = self.up(self.act(self.conv(x)))
        return self.fc(torch.flatten(torch.cat([y, y], dim=1), 1))


def test_every_unsupported_layer_is_listed():
    with pytest.raises(UnsupportedError) as err:
        from_torch(ManyUnsupported(), (1, 8, 8), "many")
    problems = err.value.problems
    assert len(problems) == 3
    assert "node 'act' (module 'act' of type Sigmoid) at position 2" in problems[0]
    assert "module 'up' of type Upsample" in problems[1]
    assert "function cat" in problems[2]


def _export(module, x, path, dynamic=True):
    torch.onnx.export(module.eval(), torch.from_numpy(x), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}} if dynamic else None)
    return path


@pytest.mark.parametrize("name", ["digits_cnn", "digits_mlp", "resnet20"])
def test_onnx_export_of_zoo_models_imports_and_matches(tmp_path, name):
    entry = ZOO[name]
    module = _randomize_batchnorm(entry.build())
    x = np.random.rand(2, *entry.input_shape).astype(np.float32)
    g = load_onnx(_export(module, x, tmp_path / f"{name}.onnx"))
    assert {n.op for n in g.nodes} <= {"Conv", "Gemm", "Relu", "AveragePool", "Flatten", "Add", "BatchNormalization"}
    np.testing.assert_allclose(_ir_output(g, x), torch_output(module, x), atol=1e-5)


def test_onnx_import_folds_shape_arithmetic_and_matmul(tmp_path):
    class ViewNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 3, 3)
            self.w = nn.Parameter(torch.randn(108, 4))

        def forward(self, x):
            y = self.conv(x)
            return torch.matmul(y.view(y.size(0), -1), self.w)

    x = np.random.rand(2, 1, 8, 8).astype(np.float32)
    module = ViewNet()
    g = load_onnx(_export(module, x, tmp_path / "view.onnx"))
    assert [n.op for n in g.nodes] == ["Conv", "Reshape", "Gemm"]
    np.testing.assert_allclose(_ir_output(g, x), torch_output(module, x), atol=1e-5)


def test_onnx_unsupported_ops_are_all_listed(tmp_path):
    module = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Softmax(dim=1))
    path = _export(module, np.random.rand(2, 4).astype(np.float32), tmp_path / "sig.onnx")
    with pytest.raises(UnsupportedError) as err:
        load_onnx(path)
    assert str(path) in str(err.value)
    assert [p.split(" (")[1].split(",")[0] for p in err.value.problems] == ["op Sigmoid", "op Softmax"]


@pytest.mark.parametrize("content", [b"", b"\x08\x96\x01garbage" * 10, b"not a model at all"])
def test_corrupt_onnx_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(InputError, match="bad.onnx"):
        load_onnx(path)


def test_truncated_onnx_file(tmp_path):
    good = _export(ZOO["digits_mlp"].build(), np.random.rand(2, 1, 8, 8).astype(np.float32), tmp_path / "m.onnx")
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated.onnx: not a valid ONNX model"):
        load_onnx(bad)


def test_checkpoint_errors(tmp_path):
    module = ZOO["digits_mlp"].build()
    with pytest.raises(InputError, match="checkpoint not found"):
        load_state_dict(module, tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with pytest.raises(InputError, match="corrupt.pt: cannot load checkpoint with weights_only=True"):
        load_state_dict(module, corrupt)
    other = tmp_path / "other.pt"
    torch.save(ZOO["digits_cnn"].build().state_dict(), other)
    with pytest.raises(InputError) as err:
        load_state_dict(module, other)
    problems = err.value.problems
    assert "missing weight '6.weight'" in problems and "unexpected weight '0.weight'" in problems
    assert "'1.weight': checkpoint shape [16] != model shape [128, 64]" in problems


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(ZOO["digits_mlp"].build(), path)
    with pytest.raises(InputError, match="weights_only=True"):
        load_state_dict(ZOO["digits_mlp"].build(), path)


def test_checkpoint_with_definition_file(tmp_path):
    definition = tmp_path / "mynet.py"
    definition.write_text("from torch import nn\nINPUT_SHAPE = (5,)\n"
                          "class Net(nn.Sequential):\n    def __init__(self):\n"
                          "        super().__init__(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))\n")
    module = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    torch.save(module.state_dict(), tmp_path / "net.pt")
    loaded = load_model(str(tmp_path / "net.pt"), f"{definition}:Net")
    x = np.random.rand(3, 5).astype(np.float32)
    np.testing.assert_allclose(_ir_output(loaded.graph, x), torch_output(module, x), atol=1e-6)


def test_wrong_input_shape_names_the_layer():
    with pytest.raises(InputError, match=r"does not accept input shape \[3, 32, 32\].*0 \(Conv\): input has 3 "
                                         r"channels"):
        load_model("digits_cnn", input_shape=(3, 32, 32))


# ------------------------------------------------------------------ ONNX content validation

def _w(*shape):
    return np.random.default_rng(0).normal(0, 0.3, shape).astype(np.float32)


def _conv_net(conv=None, inits=None, nodes=None, inputs=None, outputs=None, opsets=(("", 17),)):
    """x [N, 1, 8, 8] -> conv -> relu -> flat -> fc [N, 10], with every part replaceable."""
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]} if conv is None else conv
    arrays = {"w": _w(4, 1, 3, 3), "b": _w(4), "fw": _w(10, 256), "fb": _w(10), **(inits or {})}
    nodes = nodes or [oh.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", **conv),
                      oh.make_node("Relu", ["c"], ["r"], name="relu"),
                      oh.make_node("Flatten", ["r"], ["f"], name="flat", axis=1),
                      oh.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    inputs = inputs or [oh.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])]
    outputs = [oh.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])] if outputs is None else outputs
    initializers = [a if isinstance(a, onnx.TensorProto) else numpy_helper.from_array(np.asarray(a), k)
                    for k, a in arrays.items() if a is not None]
    graph = oh.make_graph(nodes, "g", inputs, outputs, initializer=initializers)
    return oh.make_model(graph, opset_imports=[oh.make_opsetid(d, v) for d, v in opsets])


def _shape_arithmetic(index=0, axes=(0,), concat_axis=0):
    """conv -> view(x.size(0), -1) as torch exports it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    const = lambda name, value: oh.make_node("Constant", [], [name], name=f"c_{name}",
                                             value=numpy_helper.from_array(np.asarray(value)))
    return [oh.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            oh.make_node("Shape", ["c"], ["s"], name="shape"), const("i", np.int64(index) if isinstance(index, int)
                                                                    else np.float32(index)),
            oh.make_node("Gather", ["s", "i"], ["g"], name="gather", axis=0), const("ax", np.array(axes, np.int64)),
            oh.make_node("Unsqueeze", ["g", "ax"], ["u"], name="unsqueeze"), const("m", np.array([-1], np.int64)),
            oh.make_node("Concat", ["u", "m"], ["t"], name="concat", axis=concat_axis),
            oh.make_node("Reshape", ["c", "t"], ["f"], name="reshape"),
            oh.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]


def _snn(encode=None, neuron=None, outputs=("s",), op="IF"):
    """x -> DirectEncode -> IF -> SpikeCount, in the custom domain as snn.onnx files spell it."""
    d = "ai.neurodeploy"
    encode = {"num_steps": 4} if encode is None else encode
    neuron = {"v_th": 1.0} if neuron is None else neuron
    nodes = [oh.make_node("DirectEncode", ["x"], ["e"], name="enc", domain=d, **encode),
             oh.make_node(op, ["e"], list(outputs), name="if1", domain=d, **neuron),
             oh.make_node("SpikeCount", [outputs[-1]], ["y"], name="count", domain=d)]
    return _conv_net(nodes=nodes, inits={"w": None, "b": None, "fw": None, "fb": None},
                     outputs=[oh.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 8, 8])],
                     opsets=(("", 17), (d, 1)))


_MALFORMED_ONNX = {
    "stride_zero": (lambda: _conv_net({"kernel_shape": [3, 3], "strides": [0, 0]}), GraphError,
                    "conv (Conv): attribute 'strides'=(0, 0) must be >= 1"),
    "negative_stride": (lambda: _conv_net({"strides": [-1, 1]}), GraphError, "'strides'=(-1, 1) must be >= 1"),
    "dilation_zero": (lambda: _conv_net({"dilations": [0, 1]}), GraphError, "'dilations'=(0, 1) must be >= 1"),
    "three_pads": (lambda: _conv_net({"pads": [1, 1, 1]}), GraphError, "'pads'=(1, 1, 1) needs 4 values"),
    "negative_pad": (lambda: _conv_net({"pads": [-1, 0, 0, 0]}), GraphError, "'pads'=(-1, 0, 0, 0) must be >= 0"),
    "one_d_kernel": (lambda: _conv_net({"kernel_shape": [3]}), GraphError, "'kernel_shape'=(3,) needs 2 values"),
    "group_zero": (lambda: _conv_net({"group": 0}), GraphError, "conv (Conv): attribute 'group'=0 must be >= 1"),
    "conv_weight_channels": (lambda: _conv_net(inits={"w": _w(4, 2, 3, 3)}), GraphError,
                             "conv (Conv): input has 1 channels but weight [4, 2, 3, 3]"),
    "gemm_weight": (lambda: _conv_net(inits={"fw": _w(10, 100)}), GraphError,
                    "fc (Gemm): input has 256 features, weight [10, 100] expects 100"),
    "gemm_bias": (lambda: _conv_net(inits={"fb": _w(7)}), GraphError, "fc (Gemm): bias shape [7] does not broadcast"),
    "nan_weight": (lambda: _conv_net(inits={"w": np.full((4, 1, 3, 3), np.nan, np.float32)}), GraphError,
                   "parameter 'w' (used by conv (Conv)) is not finite: 36 NaN"),
    "inf_bias": (lambda: _conv_net(inits={"fb": np.full(10, np.inf, np.float32)}), GraphError,
                 "parameter 'fb' (used by fc (Gemm)) is not finite: 0 NaN and 10 Inf"),
    "no_outputs": (lambda: _conv_net(outputs=[]), InputError, "the ONNX graph has no outputs"),
    "opset_too_new": (lambda: _conv_net(opsets=(("", NEWEST_OPSET + 1),)), UnsupportedError,
                      f"ONNX opset {NEWEST_OPSET + 1} is newer than the newest this importer knows "
                      f"({OLDEST_OPSET}..{NEWEST_OPSET})"),
    "opset_too_old": (lambda: _conv_net(opsets=(("", 6),)), UnsupportedError,
                      f"ONNX opset 6 is older than the oldest this importer knows ({OLDEST_OPSET}..{NEWEST_OPSET}); "
                      f"export with opset_version={OLDEST_OPSET}"),
    "neuro_domain_version": (lambda: _conv_net(opsets=(("", 17), ("ai.neurodeploy", 2))), UnsupportedError,
                             "domain 'ai.neurodeploy' version 2"),
    "string_initializer": (lambda: _conv_net(inits={"fb": oh.make_tensor("fb", TensorProto.STRING, [10], [b"a"] * 10)}),
                           GraphError, "initializer 'fb' has element type STRING"),
    "complex_initializer": (lambda: _conv_net(inits={"fb": oh.make_tensor("fb", TensorProto.COMPLEX64, [10],
                                                                          [1j] * 10)}),
                            GraphError, "initializer 'fb' has element type COMPLEX64"),
    "bfloat16_initializer": (lambda: _conv_net(inits={"fb": oh.make_tensor("fb", TensorProto.BFLOAT16, [10],
                                                                           [1.0] * 10)}),
                             GraphError, "initializer 'fb' has element type BFLOAT16"),
    "dynamic_dim": (lambda: _conv_net(inputs=[oh.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", 8])]),
                    GraphError, "input 'x' needs a batch axis and fixed per-sample dims >= 1, got ['N', 1, 'H', 8]"),
    "zero_dim": (lambda: _conv_net(inputs=[oh.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 0, 8])]),
                 GraphError, "input 'x' needs a batch axis and fixed per-sample dims >= 1"),
    "integer_input": (lambda: _conv_net(inputs=[oh.make_tensor_value_info("x", TensorProto.INT64, ["N", 1, 8, 8])]),
                      GraphError, "input 'x' has element type INT64"),
    "output_is_initializer": (lambda: _conv_net(nodes=[oh.make_node("Relu", ["x"], ["fw"])]), InputError,
                              "'fw' has been used as output names multiple times"),
    "constant_without_value": (lambda: _conv_net(nodes=[oh.make_node("Constant", [], ["k"], name="k"),
                                                        oh.make_node("Relu", ["x"], ["y"])]),
                               GraphError, "node 'k' (Constant): it has no value neurodeploy can use"),
    "constant_overwrites_initializer": (lambda: _conv_net(nodes=[
        oh.make_node("Constant", [], ["fb"], name="k", value_float=1.0), *_conv_net().graph.node]), InputError,
        "'fb' has been used as output names multiple times"),
    "gather_out_of_range": (lambda: _conv_net(nodes=_shape_arithmetic(index=7)), GraphError,
                            "node 'gather' (Gather): cannot evaluate it on its constant inputs (index 7 is out of"),
    "gather_float_index": (lambda: _conv_net(nodes=_shape_arithmetic(index=0.5)), GraphError,
                           "node 'gather' (Gather): cannot evaluate it on its constant inputs (indices must be"),
    "unsqueeze_bad_axis": (lambda: _conv_net(nodes=_shape_arithmetic(axes=(3,))), GraphError,
                           "node 'unsqueeze' (Unsqueeze): cannot evaluate"),
    "unsqueeze_repeated_axis": (lambda: _conv_net(nodes=_shape_arithmetic(axes=(0, 0))), GraphError,
                                "axes [0, 0] are out of range or repeated"),
    "concat_bad_axis": (lambda: _conv_net(nodes=_shape_arithmetic(concat_axis=2)), GraphError,
                        "node 'concat' (Concat): cannot evaluate"),
    "reshape_misfit": (lambda: _conv_net(nodes=[
        oh.make_node("Constant", [], ["t"], value=numpy_helper.from_array(np.array([0, 100], np.int64))),
        oh.make_node("Reshape", ["x", "t"], ["f"], name="reshape"),
        oh.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]), GraphError,
        "reshape (Reshape): cannot reshape per-sample shape [1, 8, 8] (64 elements) to [100]"),
    "squeeze_of_non_unit_axis": (lambda: _conv_net(nodes=[
        oh.make_node("Constant", [], ["t"], value=numpy_helper.from_array(np.array([0, 64], np.int64))),
        oh.make_node("Squeeze", ["t", "t"], ["t2"], name="squeeze"),
        oh.make_node("Reshape", ["x", "t2"], ["y"])]), GraphError, "node 'squeeze' (Squeeze): cannot evaluate"),
    "duplicate_node_names": (lambda: _conv_net(nodes=[oh.make_node("Relu", ["x"], ["a"], name="n"),
                                                      oh.make_node("Flatten", ["a"], ["f"], name="n"),
                                                      oh.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
                                               inits={"fw": _w(10, 64)}), GraphError,
                             "n (Flatten): node name used twice"),
    "maxpool_pad_beyond_window": (lambda: _conv_net(nodes=[
        oh.make_node("MaxPool", ["x"], ["a"], name="pool", kernel_shape=[2, 2], pads=[2, 2, 2, 2]),
        oh.make_node("Flatten", ["a"], ["y"])]), GraphError, "pool (MaxPool): pads [2, 2, 2, 2] must be smaller"),
    "batchnorm_negative_variance": (lambda: _conv_net(nodes=[
        oh.make_node("BatchNormalization", ["x", "s", "s", "m", "v"], ["a"], name="bn"),
        oh.make_node("Flatten", ["a"], ["y"])], inits={"s": _w(1), "m": _w(1), "v": np.float32([-1])}),
        GraphError, "bn (BatchNormalization): var + epsilon must be > 0"),
    "neuron_attribute_of_wrong_type": (lambda: _snn(neuron={"v_th": "high"}), GraphError,
                                       "if1 (IF): attribute 'v_th'='high' is not of type float"),
    "neuron_threshold_nan": (lambda: _snn(neuron={"v_th": float("nan")}), GraphError,
                             "if1 (IF): attribute 'v_th'=nan is not finite"),
    "neuron_attributes_missing": (lambda: _snn(encode={}, neuron={}), GraphError,
                                  "enc (DirectEncode): missing required attribute 'num_steps'"),
    "tensor_as_attribute": (lambda: _snn(encode={"num_steps": numpy_helper.from_array(np.ones((50, 50), np.float32))}),
                            GraphError, "enc (DirectEncode): attribute 'num_steps'=<TensorProto> is not of type int"),
    "neuron_with_two_outputs": (lambda: _snn(outputs=("s", "s2")), GraphError,
                                "if1 (IF): has 1..1 (named) outputs, got ['s', 's2']"),
    "lif_decay_out_of_range": (lambda: _snn(neuron={"v_th": 1.0, "v_decay": 3.0}, op="LIF"), GraphError,
                               "if1 (LIF): attribute 'v_decay'=3.0 must be <= 1"),
    "matmul_by_vector": (lambda: _conv_net(nodes=[oh.make_node("Flatten", ["x"], ["f"]),
                                                  oh.make_node("MatMul", ["f", "v"], ["y"], name="mm")],
                                           inits={"v": _w(64)}), GraphError, "mm (Gemm): B must be a non-empty 2-D"),
}


@pytest.mark.parametrize("case", sorted(_MALFORMED_ONNX))
def test_malformed_onnx_is_a_clear_error_naming_file_and_element(tmp_path, case):
    build, error, fragment = _MALFORMED_ONNX[case]
    path = tmp_path / f"{case}.onnx"
    onnx.save(build(), str(path))
    with pytest.raises(error) as err:
        load_onnx(path)
    assert str(path) in str(err.value) and fragment in str(err.value), str(err.value)


def test_every_problem_of_an_onnx_file_is_listed_at_once(tmp_path):
    model = _conv_net(inits={"fb": oh.make_tensor("fb", TensorProto.STRING, [10], [b"a"] * 10),
                             "w": oh.make_tensor("w", TensorProto.COMPLEX64, [1], [1j])},
                      inputs=[oh.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", 8])])
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(GraphError) as err:
        load_onnx(tmp_path / "m.onnx")
    assert len(err.value.problems) == 3


def test_newest_opset_imports_and_agrees_with_onnx_reference(tmp_path):
    """The opset range is a decision: at the newest opset, every supported ANN op and the folded shape
    arithmetic still mean what the IR's references compute (checked against onnx's own reference evaluator)."""
    from onnx.reference import ReferenceEvaluator

    nodes = _shape_arithmetic()[:-1] + [
        oh.make_node("Gemm", ["f", "fw", "fb"], ["g1"], name="fc", transB=1),
        oh.make_node("Relu", ["g1"], ["r1"]), oh.make_node("Dropout", ["r1"], ["d1"]),
        oh.make_node("Identity", ["d1"], ["i1"]), oh.make_node("Mul", ["i1", "fb"], ["m1"]),
        oh.make_node("Add", ["m1", "g1"], ["y"])]
    pool_nodes = [oh.make_node("AveragePool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                  oh.make_node("MaxPool", ["p"], ["q"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
                  oh.make_node("BatchNormalization", ["q", "s", "s", "s", "s"], ["bn"]),
                  oh.make_node("Flatten", ["bn"], ["y"], axis=1)]
    ones = {"s": np.ones(1, np.float32)}
    for name, graph_nodes, extra, size in (("fc", nodes, {}, 10), ("pool", pool_nodes, ones, 25)):
        model = _conv_net(nodes=graph_nodes, inits=extra, opsets=(("", NEWEST_OPSET),), outputs=[
            oh.make_tensor_value_info("y", TensorProto.FLOAT, ["N", size])])
        path = tmp_path / f"{name}.onnx"
        onnx.save(model, str(path))
        x = np.random.rand(2, 1, 8, 8).astype(np.float32)
        expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
        np.testing.assert_allclose(_ir_output(load_onnx(path), x), expected, atol=1e-5)


@pytest.mark.parametrize("opset", [OLDEST_OPSET, 13, 17])  # 17: the newest torch 2.3 exports without a warning
def test_torch_exports_of_every_known_opset_import(tmp_path, opset):
    module = ZOO["digits_mlp"].build().eval()
    x = np.random.rand(2, 1, 8, 8).astype(np.float32)
    torch.onnx.export(module, torch.from_numpy(x), str(tmp_path / "m.onnx"), opset_version=opset,
                      input_names=["x"], dynamic_axes={"x": {0: "N"}})
    np.testing.assert_allclose(_ir_output(load_onnx(tmp_path / "m.onnx"), x), torch_output(module, x), atol=1e-5)


def test_shape_with_start_and_end_is_sliced(tmp_path):
    nodes = _shape_arithmetic()
    nodes[1] = oh.make_node("Shape", ["c"], ["s"], name="shape", start=0, end=1)  # [batch]: the same arithmetic
    onnx.save(_conv_net(nodes=nodes, opsets=(("", 17),)), str(tmp_path / "m.onnx"))
    assert [n.op for n in load_onnx(tmp_path / "m.onnx").nodes] == ["Conv", "Reshape", "Gemm"]


def test_metadata_must_be_json_with_counts(tmp_path):
    model = _conv_net()
    oh.set_model_props(model, {"neurodeploy.meta": '{"num_steps": "many", "thresholds": {"a": 1.0}}'})
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(InputError, match=r"m.onnx: metadata 'neurodeploy.meta' is inconsistent") as err:
        load_onnx(tmp_path / "m.onnx")
    assert err.value.problems == ["'num_steps' must be a count (an integer >= 1), got 'many'"]
    oh.set_model_props(model, {"neurodeploy.meta": '{"thresholds": {"a": NaN}}'})
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(InputError, match="not valid JSON .*NaN is not a finite number"):
        load_onnx(tmp_path / "m.onnx")


def test_onnx_path_that_is_a_directory(tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(InputError, match="dir.onnx: is a directory"):
        load_onnx(tmp_path / "dir.onnx")


# ------------------------------------------------------------------ .pt + --definition validation

_GOOD_DEFINITION = ("from torch import nn\nINPUT_SHAPE = (5,)\nclass Net(nn.Sequential):\n    def __init__(self):\n"
                    "        super().__init__(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))\n")
_FORWARD = "class Odd(Net):\n    def forward(self, x):\n        {}\n"


@pytest.mark.parametrize("text,cls,fragment", [
    ("def (:\n", "Net", "importing the definition failed (SyntaxError: invalid syntax"),
    ("raise RuntimeError('boom')\n", "Net", "importing the definition failed (RuntimeError: boom)"),
    ("import sys\nsys.exit(3)\n", "Net", "importing the definition failed (SystemExit: 3)"),
    ("import no_such_module_here\n", "Net", "(ModuleNotFoundError: No module named 'no_such_module_here')"),
    (_GOOD_DEFINITION, "Other", "defines no 'Other'"),
    (_GOOD_DEFINITION, "INPUT_SHAPE", "'INPUT_SHAPE' is a value of type tuple, not an nn.Module subclass"),
    (_GOOD_DEFINITION + "class Thing:\n    pass\n", "Thing", "'Thing' is a class but not an nn.Module subclass"),
    (_GOOD_DEFINITION + "def make():\n    return 3\n", "make", "make() returned a value of type int, not an nn.Module"),
    (_GOOD_DEFINITION.replace("(self):", "(self, width):"), "Net",
     "Net() failed (TypeError: Net.__init__() missing 1 required positional argument: 'width')"),
    (_GOOD_DEFINITION.replace("super()", "raise ValueError('bad width')\n        super()"), "Net",
     "Net() failed (ValueError: bad width)"),
    (_GOOD_DEFINITION.replace("(5,)", "(5, 0)"), "Net", "INPUT_SHAPE must be a tuple of positive ints"),
    (_GOOD_DEFINITION.replace("(5,)", "'five'"), "Net", "INPUT_SHAPE must be a tuple of positive ints"),
])
def test_definition_file_problems_name_the_file_and_the_exception(tmp_path, text, cls, fragment):
    definition = tmp_path / "mynet.py"
    definition.write_text(text)
    torch.save(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict(), tmp_path / "net.pt")
    with pytest.raises(InputError) as err:
        load_model(str(tmp_path / "net.pt"), f"{definition}:{cls}")
    assert str(definition) in str(err.value) and fragment in str(err.value), str(err.value)
    assert "\n" not in err.value.headline


@pytest.mark.parametrize("spec,fragment", [
    ("{d}/missing.py:Net", "definition file '{d}/missing.py' not found"),
    ("{d}/net.pt:Net", "must be a Python file (.py)"),
    ("{d}/mynet.py:", "give the class after the colon"),
    ("nonsense", "neither a zoo model"),
])
def test_definition_specs_that_name_no_class(tmp_path, spec, fragment):
    (tmp_path / "mynet.py").write_text(_GOOD_DEFINITION)
    torch.save(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict(), tmp_path / "net.pt")
    with pytest.raises(InputError, match=re.escape(fragment.format(d=tmp_path))):
        load_model(str(tmp_path / "net.pt"), spec.format(d=tmp_path))


def test_definition_that_is_a_factory_and_uses_dataclasses(tmp_path):
    text = ("from __future__ import annotations\nfrom dataclasses import dataclass\n@dataclass\nclass Cfg:\n"
            "    width: int = 4\n" + _GOOD_DEFINITION + "def make():\n    return Net()\n")
    (tmp_path / "mynet.py").write_text(text)
    torch.save(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict(), tmp_path / "net.pt")
    assert load_model(str(tmp_path / "net.pt"), f"{tmp_path / 'mynet.py'}:make").graph.inputs["input_1"].shape == (5,)


@pytest.mark.parametrize("change,fragment", [
    (lambda sd: {**sd, "0.bias": 3}, "'0.bias': checkpoint holds a value of type int, not a tensor"),
    (lambda sd: {**sd, "0.bias": "x"}, "'0.bias': checkpoint holds a value of type str, not a tensor"),
    (lambda sd: {**sd, "0.bias": [1.0] * 4}, "'0.bias': checkpoint holds a value of type list, not a tensor"),
    (lambda sd: {"state_dict": sd}, "the weights may be under 'state_dict'"),
    (lambda sd: {**sd, "0.weight": torch.ones(4, 5, dtype=torch.int64)},
     "'0.weight': checkpoint dtype torch.int64 does not fit the model's torch.float32"),
    (lambda sd: {**sd, "0.bias": torch.ones(4, dtype=torch.complex64)}, "checkpoint dtype torch.complex64"),
    (lambda sd: {**sd, "2.weight": torch.full((2, 4), float("nan"))}, "'2.weight': 8 NaN and 0 Inf of 8 values"),
    (lambda sd: {**sd, 7: torch.ones(1)}, "unexpected weight '7'"),
    (lambda sd: [sd["0.weight"]], "holds a list, expected a state dict"),
    (lambda sd: sd["0.weight"], "holds a Tensor, expected a state dict"),
])
def test_checkpoint_values_are_checked(tmp_path, change, fragment):
    module = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    torch.save(change(module.state_dict()), tmp_path / "net.pt")
    with pytest.raises(InputError) as err:
        load_state_dict(module, tmp_path / "net.pt")
    assert "net.pt" in str(err.value) and fragment in str(err.value), str(err.value)


def test_double_checkpoint_loads_into_float_model(tmp_path):
    module = nn.Sequential(nn.Linear(5, 4))
    torch.save({k: v.double() for k, v in module.state_dict().items()}, tmp_path / "net.pt")
    load_state_dict(module, tmp_path / "net.pt")
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(InputError, match="dir.pt: is a directory"):
        load_state_dict(module, tmp_path / "dir.pt")


@pytest.mark.parametrize("body,error,fragment", [
    ("return {'y': super().forward(x)}", UnsupportedError, "forward must return a tensor or a tuple of tensors"),
    ("super().forward(x)", UnsupportedError, "got NoneType"),
    ("return 3", UnsupportedError, "got int"),
    ("return x.size(0)", UnsupportedError, "forward returns x.size(0), not a tensor"),
    ("return x", InputError, "graph output 'x' is a graph input"),
    ("raise ValueError('nope')", UnsupportedError, "torch.fx cannot trace this model (ValueError: nope)"),
    ("return self[2](input=self[1](self[0](x)))", UnsupportedError, "called with one tensor only"),
])
def test_odd_forward_methods_are_clear_errors(tmp_path, body, error, fragment):
    (tmp_path / "odd.py").write_text(_GOOD_DEFINITION + _FORWARD.format(body))
    torch.save(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict(), tmp_path / "net.pt")
    with pytest.raises(error, match=re.escape(fragment)):
        load_model(str(tmp_path / "net.pt"), f"{tmp_path / 'odd.py'}:Odd")


def test_adaptive_pool_on_a_flat_input_is_unsupported_not_a_crash():
    module = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())
    with pytest.raises(UnsupportedError, match=r"AdaptiveAvgPool2d needs a \[C, H, W\] input per sample, got \[64\]"):
        from_torch(module, (64,))
    g = from_torch(nn.Sequential(nn.AdaptiveAvgPool2d((None, 2)), nn.Flatten()), (1, 4, 4))  # None keeps H
    assert g.types[g.outputs[0]].shape == (8,)


@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.float16, np.bool_, np.uint8])
def test_initializer_of_another_element_type_than_its_operator_takes_is_refused(tmp_path, dtype):
    """ONNX runtimes refuse a Gemm whose weight is not of the activations' type; so does the importer, instead of
    casting it in silence."""
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    w = numpy_helper.from_array(np.ones((10, 64), dtype), "w")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], "g", [x], [y], [w])
    path = tmp_path / "typed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(NeurodeployError, match="typed.onnx: ") as e:
        load_onnx(path)
    assert "Gemm" in str(e.value) or "w" in str(e.value)


@pytest.mark.parametrize("target", [[4, -1], [-1, -1], [2, 32]])
def test_reshape_that_would_mix_samples_is_refused(tmp_path, target):
    """ONNX Reshape to a constant whose first entry is not the batch axis (as x.view(x.size(1), -1) exports)."""
    x = oh.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = oh.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 64])
    shape = numpy_helper.from_array(np.array(target, np.int64), "shape")
    graph = oh.make_graph([oh.make_node("Reshape", ["x", "shape"], ["y"], name="flat")], "g", [x], [y], [shape])
    path = tmp_path / "mix.onnx"
    onnx.save(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]), str(path))
    with pytest.raises(GraphError, match=r"flat \(Reshape\): target shape .* would mix samples"):
        load_onnx(path)


def test_sparse_checkpoint_tensor_is_named(tmp_path):
    model = ZOO["digits_mlp"].build()
    state = model.state_dict()
    state["1.weight"] = state["1.weight"].to_sparse()
    path = tmp_path / "sparse.pt"
    torch.save(state, path)
    with pytest.raises(InputError, match="'1.weight': a sparse_coo tensor"):
        load_state_dict(model, path)
