"""Seeded fuzzing of ONNX import through the CLI: every corrupted or mutated model is refused cleanly (exit 2,
one ``error:`` line, no traceback, no build folder) or, where the mutation leaves a valid model, compiles (exit
0, strict JSON report).

Bases: ``torch.onnx.export`` of the zoo's digits models (compiled with ``--dataset digits``) and neurodeploy's
own ``snn.onnx`` from a quick compile (read with ``inspect``: compiling a network that already spikes stops at
conversion, so ``inspect`` is what shows that a mutated snn.onnx that imports is really accepted).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import assert_clean_failure, byte_mutations

COMPILE = ("--dataset", "digits", "--steps", "4", "--eval-samples", "10")
FLOATS = [float("nan"), float("inf"), -1.0, 0.0, 1e30, 0.5, 3.0]
INTS = [-1, 0, 1, 2, 3, 7, 2 ** 40]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """name -> (serialized model, CLI command that reads it)."""
    import torch

    from neurodeploy.cli import main
    from neurodeploy.models import ZOO

    folder = tmp_path_factory.mktemp("onnx_bases")
    out = {}
    for name in ("digits_mlp", "digits_cnn"):
        path = folder / f"{name}.onnx"
        torch.onnx.export(ZOO[name].build().eval(), torch.rand(2, *ZOO[name].input_shape), str(path),
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        out[name] = (path.read_bytes(), "compile")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["compile", "digits_mlp", "-o", str(folder / "build"), "--steps", "4", "--eval-samples", "10"]) == 0
    out["snn"] = ((folder / "build" / "snn.onnx").read_bytes(), "inspect")
    return out


def _refuse_constant(token):
    raise ValueError(f"{token} in report.json")


def _run(run_cli, folder, data: bytes, command: str):
    """Write ``data`` as a model, run ``command`` on it, and check the outcome is one of the two promised."""
    folder.mkdir(exist_ok=True)
    path, out = folder / "model.onnx", folder / "out"
    path.write_bytes(data)
    result = run_cli("compile", path, "-o", out, *COMPILE) if command == "compile" else run_cli("inspect", path)
    if result[0] == 0:
        if command == "compile":
            json.loads((out / "report.json").read_text(), parse_constant=_refuse_constant)
    else:
        assert_clean_failure(result, out if command == "compile" else None)
    return result


# ------------------------------------------------------------------ structural mutations (protobuf level)


def _node(m, rng, with_attributes=False):
    nodes = [n for n in m.graph.node if n.attribute or not with_attributes]
    return nodes[int(rng.integers(len(nodes)))] if nodes else None


def _value_of_kind(rng, kind):
    A = onnx.AttributeProto
    if kind == A.INT:
        return int(rng.choice(INTS))
    if kind == A.FLOAT:
        return float(rng.choice(FLOATS))
    if kind == A.INTS:
        return [int(rng.choice(INTS)) for _ in range(int(rng.integers(1, 6)))]
    if kind == A.FLOATS:
        return [float(rng.choice(FLOATS)) for _ in range(int(rng.integers(1, 4)))]
    return str(rng.choice(["", "zero", "subtract", "bernoulli", "SAME_UPPER", "\u00e9"]))


def _value_of_other_kind(rng):
    return [1.5, "text", [1, 2], [0.5, 0.25], 3, numpy_helper.from_array(np.ones(2, np.float32))][int(rng.integers(6))]


def drop_node(m, rng):
    m.graph.node.remove(_node(m, rng))


def duplicate_node(m, rng):
    i = int(rng.integers(len(m.graph.node)))
    m.graph.node.insert(i, copy.deepcopy(m.graph.node[i]))


def rename_input(m, rng):
    n = _node(m, rng)
    names = [v for x in m.graph.node for v in x.output] + [t.name for t in m.graph.initializer] + ["nowhere", ""]
    if n.input:
        n.input[int(rng.integers(len(n.input)))] = str(rng.choice(names))


def swap_inputs(m, rng):
    n = _node(m, rng)
    if len(n.input) > 1:
        n.input[0], n.input[1] = n.input[1], n.input[0]


def change_attribute_value(m, rng):
    n = _node(m, rng, with_attributes=True)
    if n is not None:
        a = n.attribute[int(rng.integers(len(n.attribute)))]
        a.CopyFrom(helper.make_attribute(a.name, _value_of_kind(rng, a.type)))


def change_attribute_type(m, rng):
    n = _node(m, rng, with_attributes=True)
    if n is not None:
        a = n.attribute[int(rng.integers(len(n.attribute)))]
        a.CopyFrom(helper.make_attribute(a.name, _value_of_other_kind(rng)))


def drop_attribute(m, rng):
    n = _node(m, rng, with_attributes=True)
    if n is not None:
        del n.attribute[int(rng.integers(len(n.attribute)))]


def add_attribute(m, rng):
    name = str(rng.choice(["v_th", "strides", "axis", "bogus", "num_steps"]))
    _node(m, rng).attribute.append(helper.make_attribute(name, _value_of_other_kind(rng)))


def _initializer(m, rng):
    numeric = [t for t in m.graph.initializer if t.data_type not in (TensorProto.STRING, TensorProto.COMPLEX64)]
    return numeric[int(rng.integers(len(numeric)))]


def change_initializer_shape(m, rng):
    t = _initializer(m, rng)
    a = numpy_helper.to_array(t)
    b = [a.reshape(-1)[: a.size // 2], a.reshape(-1), np.stack([a, a])][int(rng.integers(3))]
    t.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(b), t.name))


def change_initializer_dtype(m, rng):
    t = _initializer(m, rng)
    a = numpy_helper.to_array(t)
    kind = int(rng.integers(5))
    if kind < 3:
        t.CopyFrom(numpy_helper.from_array(a.astype([np.int64, np.float16, bool][kind]), t.name))
    elif kind == 3:
        values = a.astype(np.complex64).reshape(-1).tolist()
        t.CopyFrom(helper.make_tensor(t.name, TensorProto.COMPLEX64, a.shape, values))
    else:
        t.CopyFrom(helper.make_tensor(t.name, TensorProto.STRING, [a.size], [b"s"] * a.size))


def initializer_value_to_nan(m, rng):
    floats = [t for t in m.graph.initializer if t.data_type == TensorProto.FLOAT]
    t = floats[int(rng.integers(len(floats)))]
    a = numpy_helper.to_array(t).copy()
    a.reshape(-1)[int(rng.integers(a.size))] = [np.nan, np.inf, -np.inf][int(rng.integers(3))]
    t.CopyFrom(numpy_helper.from_array(a, t.name))


def change_opset(m, rng):
    for o in m.opset_import:
        if o.domain == "" or rng.random() < 0.5:
            o.version = int(rng.choice([1, 5, 6, 7, 13, 19, 28, 29, 100]))


def change_graph_outputs(m, rng):
    kind = int(rng.integers(3))
    if kind == 0:
        del m.graph.output[:]
    elif kind == 1:
        names = ["nowhere", m.graph.input[0].name] + [t.name for t in m.graph.initializer]
        m.graph.output[0].name = str(rng.choice(names))
    else:
        m.graph.output.append(copy.deepcopy(m.graph.output[0]))


def change_input_dims(m, rng):
    dims = m.graph.input[0].type.tensor_type.shape.dim
    d = dims[int(rng.integers(len(dims)))]
    value = rng.choice([0, 5, 1000, "H"])
    if isinstance(value, str):
        d.dim_param = value
    else:
        d.dim_value = int(value)


def change_op_type(m, rng):
    ops = ["Relu", "Gemm", "Conv", "IF", "MaxPool", "Flatten", "Add", "SpikeCount", "LIF", "Reshape", "Identity"]
    _node(m, rng).op_type = str(rng.choice(ops))


def change_domain(m, rng):
    _node(m, rng).domain = str(rng.choice(["", "ai.neurodeploy", "com.microsoft"]))


def change_metadata(m, rng):
    texts = ['{"num_steps": "x"}', "[1]", "{bad", '{"passes": "abc"}', '{"thresholds": NaN}', "{}"]
    helper.set_model_props(m, {"neurodeploy.meta": str(rng.choice(texts))})


MUTATIONS = [drop_node, duplicate_node, rename_input, swap_inputs, change_attribute_value, change_attribute_type,
             drop_attribute, add_attribute, change_initializer_shape, change_initializer_dtype,
             initializer_value_to_nan, change_opset, change_graph_outputs, change_input_dims, change_op_type,
             change_domain, change_metadata]
SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("base", ["digits_mlp", "digits_cnn", "snn"])
def test_structural_mutation(bases, run_cli, tmp_path, base, mutation, seed):
    data, command = bases[base]
    model = onnx.load_from_string(data)
    rng = np.random.default_rng(seed)
    mutation(model, rng)
    if rng.random() < 0.3:  # now and then a second mutation on top
        MUTATIONS[int(rng.integers(len(MUTATIONS)))](model, rng)
    _run(run_cli, tmp_path, model.SerializeToString(), command)


@pytest.mark.parametrize("base", ["digits_mlp", "digits_cnn", "snn"])
def test_byte_corruptions(bases, run_cli, tmp_path, base):
    data, command = bases[base]
    outcomes = [_run(run_cli, tmp_path / str(i), corrupted, command)[0]
                for i, corrupted in enumerate(byte_mutations(data, 1, 48))]
    assert 2 in outcomes


# ------------------------------------------------------------------ mutations whose error is known


def _set_attribute(node_op, name, value):
    def mutate(m):
        node = next(n for n in m.graph.node if n.op_type == node_op)
        attrs = [a for a in node.attribute if a.name != name]
        del node.attribute[:]
        node.attribute.extend(attrs + [helper.make_attribute(name, value)])
        return node.name
    return mutate


def _nan_weight(m):
    t = m.graph.initializer[0]
    t.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(t).shape, np.nan, np.float32), t.name))
    return t.name


def _opset(version):
    def mutate(m):
        m.opset_import[0].version = version
        return f"opset {version}"
    return mutate


def _no_outputs(m):
    del m.graph.output[:]
    return "has no outputs"


@pytest.mark.parametrize("base,mutate,fragment", [
    ("digits_cnn", _set_attribute("Conv", "strides", [0, 1]), "attribute 'strides'=(0, 1) must be >= 1"),
    ("digits_cnn", _set_attribute("Conv", "pads", [1, 1]), "attribute 'pads'=(1, 1) needs 4 values"),
    ("digits_cnn", _set_attribute("AveragePool", "kernel_shape", [-2, 2]), "'kernel_shape'=(-2, 2) must be >= 1"),
    ("digits_mlp", _set_attribute("Gemm", "alpha", float("nan")), "attribute 'alpha'=nan is not finite"),
    ("digits_mlp", _nan_weight, "is not finite"),
    ("digits_mlp", _opset(29), "newer than the newest this importer knows"),
    ("digits_mlp", _opset(5), "older than the oldest this importer knows"),
    ("digits_mlp", _no_outputs, "the ONNX graph has no outputs"),
    ("snn", _set_attribute("IF", "v_th", "high"), "attribute 'v_th'='high' is not of type float"),
    ("snn", _set_attribute("IF", "v_th", -1.0), "threshold v_th must be > 0"),
    ("snn", _set_attribute("DirectEncode", "num_steps", 0), "attribute 'num_steps'=0 must be >= 1"),
    ("snn", _set_attribute("MembraneReadout", "v_decay", 2.0), "attribute 'v_decay'=2.0 must be <= 1"),
    ("snn", _nan_weight, "is not finite"),
])
def test_known_mutations_name_the_element(bases, run_cli, tmp_path, base, mutate, fragment):
    data, command = bases[base]
    model = onnx.load_from_string(data)
    element = mutate(model)
    code, _, stderr = _run(run_cli, tmp_path, model.SerializeToString(), command)
    assert code == 2 and fragment in stderr and element in stderr, stderr
