"""Malformed-input corpus for the neurodeploy CLI: about 770 bad (and some valid) inputs and options, the way a
careful tester tries them, each classified by how the CLI answered.

Re-run with one command (about 90 s on 2 cores):

    .venv/bin/python benchmarks/malformed_inputs.py            # everything
    .venv/bin/python benchmarks/malformed_inputs.py -k netx    # only cases whose id contains 'netx'
    .venv/bin/python benchmarks/malformed_inputs.py --list     # list the cases, run nothing

What it does:
  1. regenerates every input under build/malformed-inputs/ (ONNX files built with onnx.helper and torch.onnx.export,
     .pt checkpoints + definition files, .npz data sets, lava-dl netx .net and NIR .nir files edited with h5py, event
     data sets, base build
     folders made with the real CLI and then damaged copies of them);
  2. runs the cases sequentially, in-process, in worker subprocesses that import neurodeploy.cli.main once and
     call main(argv) per case (one fresh worker per CHUNK cases), stdout/stderr captured at the fd level,
     each case in its own directory with its own -o;
  3. classifies each result:
        ok-refused   exit 2, an 'error:' line, no traceback, nothing written, no hidden leftovers
        ok-compiled  exit 0 for valid input (and its build folder is there)
        INTERNAL     exit 3 / 'internal error' / a traceback / a non-neurodeploy exception escaping main()
        ACCEPTED-BAD exit 0 for meaningless input
        PARTIAL      output written or hidden .NAME.partial-*/.old-*/.lock left behind by a refused case
        OTHER        anything else (valid input refused, missing 'error:' line, problem not listed, timeout, ...)
  4. re-runs every non-ok case once in a fresh worker (the tree may be mid-edit), and INTERNAL cases once more
     with --debug to locate the raising frame; prints a summary and writes build/malformed-inputs/results.json.

The tests in tests/test_fuzz_*.py keep the same promise in CI; this corpus is the wider, slower survey.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "malformed-inputs"
INP = WORK / "inputs"
BASES = WORK / "bases"
CASES_DIR = WORK / "cases"
CHUNKS = WORK / "chunks"
RESULTS = WORK / "results.json"
VENV_PY = sys.executable
ND = str(Path(sys.executable).parent / "neurodeploy")
NETX_DIR = REPO.parent / "shared" / "external" / "netx"
NIR_DIR = REPO.parent / "shared" / "external" / "nir"
ZOO_CKPT = REPO / "models" / "checkpoints"
CHUNK = 30
DEFAULT_TIMEOUT = 90

FAST = ["--steps", "8", "--eval-samples", "20", "--calibration-samples", "64"]

# ============================================================================================ case registry

CASES: list[dict] = []
SETUP_FAILED: dict[str, str] = {}


def case(cid, argv, expect="refuse", desc="", prep=None, must=(), ok_files=None, watch=(), timeout=DEFAULT_TIMEOUT,
         resp=None, needs=(), cwd_files=None):
    """Register one case.

    argv: CLI arguments; '{OUT}' -> CASE/out, '{CASE}' -> the case's folder, '{IN}' -> the inputs folder.
    expect: 'refuse' | 'ok' | 'either' | 'nonzero-once' (exit != 0, each error once, folder allowed) |
            'debug-raise' (--debug: a NeurodeployError must escape main()).
    must: substrings stderr+stdout must contain (every problem listed).
    prep: callable(case_dir) run by the harness before the case (copies/damage).
    needs: base builds the case depends on (skipped when their setup failed).
    """
    assert not any(c["id"] == cid for c in CASES), cid
    fam = cid.split(".")[0]
    CASES.append(dict(id=cid, family=fam, argv=list(argv), expect=expect, desc=desc, prep=prep, must=list(must),
                      ok_files=ok_files, watch=list(watch), timeout=timeout, resp=resp, needs=list(needs),
                      cwd_files=cwd_files))


def expand(arg: str, casedir: Path) -> str:
    return arg.replace("{OUT}", str(casedir / "out")).replace("{CASE}", str(casedir)).replace("{IN}", str(INP))


# ============================================================================================ generators: ONNX

def gen_onnx():
    import numpy as np
    import onnx
    from onnx import TensorProto as TP
    from onnx import helper as oh
    from onnx import numpy_helper as nh

    d = INP / "onnx"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def W(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def I(name, arr):
        return nh.from_array(np.asarray(arr), name)

    def vi(name, dims, et=TP.FLOAT):
        return oh.make_tensor_value_info(name, et, dims)

    def model(nodes, inits, inputs=None, outputs=None, opset=17, ir=8, name="g", extra_opsets=(), meta=None):
        inputs = [vi("x", ["N", 1, 8, 8])] if inputs is None else inputs
        outputs = [vi("y", ["N", 10])] if outputs is None else outputs
        g = oh.make_graph(nodes, name, inputs, outputs, initializer=inits)
        ops = ([oh.make_opsetid("", opset)] if opset is not None else []) + [oh.make_opsetid(*o) for o in extra_opsets]
        m = oh.make_model(g, opset_imports=ops, ir_version=ir)
        if meta is not None:
            oh.set_model_props(m, meta)
        return m

    def save(m, fname):
        p = d / fname
        onnx.save(m, str(p))
        return p

    # --- bases -----------------------------------------------------------------------------------
    def mlp(w=None, b=None, transB=1, gemm_attrs=None, out_dims=("N", 10), extra_nodes=(), extra_inits=(), **kw):
        w = W(10, 64) if w is None else w
        b = W(10) if b is None else b
        attrs = {"transB": transB, **(gemm_attrs or {})}
        nodes = [oh.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
                 oh.make_node("Gemm", ["f", "W", "B"], ["y"], name="fc", **attrs), *extra_nodes]
        inits = [I("W", w), I("B", b), *extra_inits]
        return model(nodes, inits, outputs=kw.pop("outputs", [vi("y", list(out_dims))]), **kw)

    def conv(conv_attrs=None, w=None, b=None, gemm_in=256, gemm_w=None, drop_bias=False, conv_inputs=None, **kw):
        ca = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]}
        ca.update(conv_attrs or {})
        ca = {k: v for k, v in ca.items() if v is not None}
        w = W(4, 1, 3, 3) if w is None else w
        b = W(4) if b is None else b
        cin = conv_inputs or (["x", "CW"] if drop_bias else ["x", "CW", "CB"])
        nodes = [oh.make_node("Conv", cin, ["c"], name="conv", **ca),
                 oh.make_node("Relu", ["c"], ["r"], name="relu"),
                 oh.make_node("Flatten", ["r"], ["f"], name="flat", axis=1),
                 oh.make_node("Gemm", ["f", "W2", "B2"], ["y"], name="fc", transB=1)]
        inits = [I("CW", w), I("W2", W(10, gemm_in, scale=0.1) if gemm_w is None else gemm_w), I("B2", W(10))]
        if not drop_bias:
            inits.append(I("CB", b))
        return model(nodes, inits, **kw)

    def shape_arith(idx=0, idx_dtype=np.int64, tail=(-1,), gather_axis=0, reshape_const=None, allowzero=None):
        """Conv -> Relu -> Shape -> Gather -> Unsqueeze -> Concat -> Reshape -> Gemm, like x.view(x.size(0), -1)."""
        nodes = [oh.make_node("Conv", ["x", "CW", "CB"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                 oh.make_node("Relu", ["c"], ["r"], name="relu")]
        inits = [I("CW", W(4, 1, 3, 3)), I("CB", W(4)), I("W2", W(10, 256, scale=0.1)), I("B2", W(10))]
        if reshape_const is None:
            nodes += [oh.make_node("Shape", ["r"], ["s"], name="shape"),
                      oh.make_node("Gather", ["s", "gi"], ["g"], name="gather", axis=gather_axis),
                      oh.make_node("Unsqueeze", ["g", "ua"], ["u"], name="unsq"),
                      oh.make_node("Concat", ["u", "tail"], ["sh"], name="concat", axis=0)]
            inits += [I("gi", np.array(idx, dtype=idx_dtype)), I("ua", np.array([0], np.int64)),
                      I("tail", np.array(tail, np.int64))]
        else:
            inits.append(I("sh", np.asarray(reshape_const)))
        rattrs = {} if allowzero is None else {"allowzero": allowzero}
        nodes += [oh.make_node("Reshape", ["r", "sh"], ["f"], name="reshape", **rattrs),
                  oh.make_node("Gemm", ["f", "W2", "B2"], ["y"], name="fc", transB=1)]
        return model(nodes, inits)

    out = {}
    out["valid_mlp"] = save(mlp(), "valid_mlp.onnx")
    hid = model([oh.make_node("Flatten", ["x"], ["f"], axis=1),
                 oh.make_node("Gemm", ["f", "W1", "B1"], ["h"], transB=1),
                 oh.make_node("Relu", ["h"], ["hr"]),
                 oh.make_node("Gemm", ["hr", "W2", "B2"], ["y"], transB=1)],
                [I("W1", W(32, 64)), I("B1", W(32)), I("W2", W(10, 32)), I("B2", W(10))])
    out["valid_hidden"] = save(hid, "valid_hidden.onnx")
    out["valid_conv"] = save(conv(), "valid_conv.onnx")
    out["valid_shape_arith"] = save(shape_arith(), "valid_shape_arith.onnx")
    out["valid_batch1"] = save(mlp(inputs=[vi("x", [1, 1, 8, 8])], out_dims=(1, 10)), "valid_batch1.onnx")
    mm = model([oh.make_node("Flatten", ["x"], ["f"], axis=1), oh.make_node("MatMul", ["f", "WT"], ["m"]),
                oh.make_node("Add", ["m", "B"], ["y"])], [I("WT", W(64, 10)), I("B", W(10))])
    out["valid_matmul_add"] = save(mm, "valid_matmul_add.onnx")
    ident = model([oh.make_node("Identity", ["x"], ["x1"]), oh.make_node("Flatten", ["x1"], ["f"], axis=1),
                   oh.make_node("Gemm", ["f", "W", "B"], ["y0"], transB=1), oh.make_node("Identity", ["y0"], ["y"])],
                  [I("W", W(10, 64)), I("B", W(10))])
    out["valid_identity"] = save(ident, "valid_identity.onnx")
    bn = model([oh.make_node("Conv", ["x", "CW"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                oh.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-5),
                oh.make_node("Relu", ["n"], ["r"]), oh.make_node("Flatten", ["r"], ["f"], axis=1),
                oh.make_node("Gemm", ["f", "W2", "B2"], ["y"], transB=1)],
               [I("CW", W(4, 1, 3, 3)), I("s", np.ones(4, np.float32)), I("bb", np.zeros(4, np.float32)),
                I("m", np.zeros(4, np.float32)), I("v", np.ones(4, np.float32)), I("W2", W(10, 256, scale=0.1)),
                I("B2", W(10))])
    out["valid_bn"] = save(bn, "valid_bn.onnx")

    def bn_variant(fname, s=None, bb=None, m=None, v=None, eps=1e-5):
        mdl = onnx.ModelProto()
        mdl.CopyFrom(bn)
        node = mdl.graph.node[1]
        del node.attribute[:]
        node.attribute.extend([oh.make_attribute("epsilon", eps)])
        repl = {"s": s, "bb": bb, "m": m, "v": v}
        for t in mdl.graph.initializer:
            if repl.get(t.name) is not None:
                t.CopyFrom(I(t.name, repl[t.name]))
        return save(mdl, fname)

    out["bn_neg_var"] = bn_variant("bn_neg_var.onnx", v=-np.ones(4, np.float32))
    out["bn_neg_eps"] = bn_variant("bn_neg_eps.onnx", v=np.zeros(4, np.float32), eps=-1.0)
    out["bn_param_len"] = bn_variant("bn_param_len.onnx", m=np.zeros(3, np.float32))
    out["bn_nan_mean"] = bn_variant("bn_nan_mean.onnx", m=np.array([0, np.nan, 0, 0], np.float32))

    # outputs
    out["no_outputs"] = save(mlp(outputs=[]), "no_outputs.onnx")
    out["output_not_produced"] = save(mlp(outputs=[vi("zzz", ["N", 10])]), "output_not_produced.onnx")
    out["output_one_missing"] = save(mlp(outputs=[vi("y", ["N", 10]), vi("ghost", ["N", 10])]), "output_one_missing.onnx")
    out["two_outputs"] = save(mlp(outputs=[vi("y", ["N", 10]), vi("f", ["N", 64])]), "two_outputs.onnx")
    out["two_outputs_hidden_first"] = save(mlp(outputs=[vi("f", ["N", 64]), vi("y", ["N", 10])]),
                                           "two_outputs_hidden_first.onnx")
    out["output_twice"] = save(mlp(outputs=[vi("y", ["N", 10]), vi("y", ["N", 10])]), "output_twice.onnx")
    out["output_is_input"] = save(mlp(outputs=[vi("x", ["N", 1, 8, 8])]), "output_is_input.onnx")
    out["empty_graph"] = save(model([], [], outputs=[vi("x", ["N", 1, 8, 8])]), "empty_graph.onnx")
    # conv attributes
    cv = {
        "conv_stride0": dict(conv_attrs={"strides": [0, 0]}),
        "conv_stride_neg": dict(conv_attrs={"strides": [-1, -1]}),
        "conv_dilation0": dict(conv_attrs={"dilations": [0, 0]}),
        "conv_dilation_neg": dict(conv_attrs={"dilations": [-2, 1]}),
        "conv_kernel0": dict(conv_attrs={"kernel_shape": [0, 0]}),
        "conv_kernel_mismatch": dict(conv_attrs={"kernel_shape": [5, 5]}),
        "conv_pads_neg": dict(conv_attrs={"pads": [-1, -1, -1, -1]}),
        "conv_pads_len2": dict(conv_attrs={"pads": [1, 1]}),
        "conv_pads_len3": dict(conv_attrs={"pads": [1, 1, 1]}),
        "conv_strides_len3": dict(conv_attrs={"strides": [1, 1, 1]}),
        "conv_dilations_len1": dict(conv_attrs={"dilations": [1]}),
        "conv_kernel_len1": dict(conv_attrs={"kernel_shape": [3]}),
        "conv_group0": dict(conv_attrs={"group": 0}),
        "conv_group_neg": dict(conv_attrs={"group": -1}),
        "conv_group3": dict(conv_attrs={"group": 3}),
        "conv_weight_inch": dict(w=W(4, 2, 3, 3)),
        "conv_bias_len": dict(b=W(5)),
        "conv_weight_5d": dict(w=W(4, 1, 3, 3, 1), conv_attrs={"kernel_shape": None}),
        "conv_weight_2d": dict(w=W(4, 9), conv_attrs={"kernel_shape": None}),
        "conv_weight_0size": dict(w=np.zeros((0, 1, 3, 3), np.float32), b=np.zeros(0, np.float32)),
        "conv_no_weight": dict(conv_inputs=["x"]),
        "conv_kernel_gt_input": dict(w=W(4, 1, 9, 9), conv_attrs={"kernel_shape": [9, 9], "pads": [0, 0, 0, 0]}),
        "conv_pads_huge": dict(conv_attrs={"pads": [100, 100, 100, 100]}),
        "conv_autopad_bogus": dict(conv_attrs={"auto_pad": "BOGUS", "pads": None}),
        "conv_strides_float": dict(conv_attrs={"strides": [1.0, 1.0]}),
        "conv_strides_huge": dict(conv_attrs={"strides": [2 ** 40, 2 ** 40]}, gemm_in=4),
        "conv_pads_and_autopad": dict(conv_attrs={"auto_pad": "SAME_UPPER"}),
    }
    for k, kw in cv.items():
        out[k] = save(conv(**kw), f"{k}.onnx")
    out["conv_autopad_same"] = save(conv(conv_attrs={"auto_pad": "SAME_UPPER", "pads": None}), "conv_autopad_same.onnx")
    out["conv_no_bias"] = save(conv(drop_bias=True), "conv_no_bias.onnx")
    out["conv_empty_bias_name"] = save(conv(drop_bias=True, conv_inputs=["x", "CW", ""]), "conv_empty_bias_name.onnx")
    out["conv_stride2_valid"] = save(conv(conv_attrs={"strides": [2, 2]}, gemm_in=64), "conv_stride2_valid.onnx")
    # gemm
    out["gemm_w_mismatch"] = save(mlp(w=W(10, 63)), "gemm_w_mismatch.onnx")
    out["gemm_bias_len"] = save(mlp(b=W(9)), "gemm_bias_len.onnx")
    out["gemm_transB0"] = save(mlp(transB=0), "gemm_transB0.onnx")
    out["gemm_transA1"] = save(mlp(gemm_attrs={"transA": 1}), "gemm_transA1.onnx")
    out["gemm_alpha_nan"] = save(mlp(gemm_attrs={"alpha": float("nan")}), "gemm_alpha_nan.onnx")
    out["gemm_alpha_inf"] = save(mlp(gemm_attrs={"alpha": float("inf")}), "gemm_alpha_inf.onnx")
    out["gemm_alpha2"] = save(mlp(gemm_attrs={"alpha": 2.0}), "gemm_alpha2.onnx")
    out["gemm_beta0"] = save(mlp(gemm_attrs={"beta": 0.0}), "gemm_beta0.onnx")
    out["gemm_w_3d"] = save(mlp(w=W(10, 64, 1)), "gemm_w_3d.onnx")
    on4d = model([oh.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)], [I("W", W(10, 64)), I("B", W(10))])
    out["gemm_on_4d"] = save(on4d, "gemm_on_4d.onnx")
    dynw = model([oh.make_node("Flatten", ["x"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                 [I("B", W(10))], inputs=[vi("x", ["N", 1, 8, 8]), vi("W", [10, 64])])
    out["gemm_w_dynamic"] = save(dynw, "gemm_w_dynamic.onnx")
    # values of initializers
    w = W(10, 64); w[3, 5] = np.nan
    out["nan_weight"] = save(mlp(w=w), "nan_weight.onnx")
    b = W(10); b[0] = np.inf
    out["inf_bias"] = save(mlp(b=b), "inf_bias.onnx")
    cw = W(4, 1, 3, 3); cw[...] = np.nan
    out["nan_conv_weight"] = save(conv(w=cw), "nan_conv_weight.onnx")
    out["nan_unused_init"] = save(mlp(extra_inits=[I("unused", np.array([np.nan], np.float32))]), "nan_unused_init.onnx")
    out["huge_weight"] = save(mlp(w=np.full((10, 64), 3e38, np.float32)), "huge_weight.onnx")
    out["int_weight"] = save(mlp(w=(W(10, 64) * 10).astype(np.int64)), "int_weight.onnx")
    out["int32_bias"] = save(mlp(b=np.arange(10, dtype=np.int32)), "int32_bias.onnx")
    out["bool_weight"] = save(mlp(w=W(10, 64) > 0), "bool_weight.onnx")
    out["uint8_weight"] = save(mlp(w=(np.abs(W(10, 64)) * 100).astype(np.uint8)), "uint8_weight.onnx")
    out["fp16_weight"] = save(mlp(w=W(10, 64).astype(np.float16)), "fp16_weight.onnx")
    out["fp64_weight"] = save(mlp(w=W(10, 64).astype(np.float64), b=W(10).astype(np.float64)), "fp64_weight.onnx")
    st = mlp()
    st.graph.initializer[0].CopyFrom(oh.make_tensor("W", TP.STRING, [2], [b"a", b"b"]))
    out["string_weight"] = save(st, "string_weight.onnx")
    dm = mlp()
    t = dm.graph.initializer[0]
    t.raw_data = t.raw_data[:40]
    out["init_dims_mismatch"] = save(dm, "init_dims_mismatch.onnx")
    nd_ = mlp()
    nd_.graph.initializer[0].dims[0] = -10
    out["init_neg_dims"] = save(nd_, "init_neg_dims.onnx")
    out["init_dup_name"] = save(mlp(extra_inits=[I("W", W(10, 64))]), "init_dup_name.onnx")
    sp = mlp()
    sp.graph.initializer.pop(0)
    sp.graph.sparse_initializer.append(oh.make_sparse_tensor(I("W", W(4)), I("Wi", np.array([0, 1, 2, 3], np.int64)), [10, 64]))
    out["sparse_init"] = save(sp, "sparse_init.onnx")
    # inputs
    out["dyn_H"] = save(mlp(inputs=[vi("x", ["N", 1, "H", 8])]), "dyn_H.onnx")
    noshape = mlp()
    noshape.graph.input[0].type.tensor_type.ClearField("shape")
    out["input_no_shape"] = save(noshape, "input_no_shape.onnx")
    out["input_dim0"] = save(mlp(inputs=[vi("x", ["N", 1, 0, 8])]), "input_dim0.onnx")
    out["input_int64"] = save(mlp(inputs=[vi("x", ["N", 1, 8, 8], TP.INT64)]), "input_int64.onnx")
    out["input_rank1"] = save(model([oh.make_node("Relu", ["x"], ["y"])], [], inputs=[vi("x", ["N"])],
                                    outputs=[vi("y", ["N"])]), "input_rank1.onnx")
    out["input_rank0"] = save(model([oh.make_node("Relu", ["x"], ["y"])], [], inputs=[vi("x", [])],
                                    outputs=[vi("y", [])]), "input_rank0.onnx")
    two_in = model([oh.make_node("Add", ["x", "x2"], ["s"]), oh.make_node("Flatten", ["s"], ["f"], axis=1),
                    oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)], [I("W", W(10, 64)), I("B", W(10))],
                   inputs=[vi("x", ["N", 1, 8, 8]), vi("x2", ["N", 1, 8, 8])])
    out["two_inputs"] = save(two_in, "two_inputs.onnx")
    no_in = model([oh.make_node("Constant", [], ["y"], value=I("cv", W(1, 10)))], [], inputs=[], outputs=[vi("y", [1, 10])])
    out["no_inputs"] = save(no_in, "no_inputs.onnx")
    out["input_28x28"] = save(mlp(inputs=[vi("x", ["N", 1, 28, 28])], w=W(10, 784)), "input_28x28.onnx")
    flat = model([oh.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)], [I("W", W(10, 64)), I("B", W(10))],
                 inputs=[vi("x", ["N", 64])])
    out["input_flat64"] = save(flat, "input_flat64.onnx")
    out["input_batch_axis_missing"] = save(mlp(inputs=[vi("x", [1, 8, 8])]), "input_batch_axis_missing.onnx")
    # unsupported ops
    for op in ("Tanh", "Sigmoid", "Softmax", "LeakyRelu", "Sin", "Erf"):
        attrs = {"axis": 1} if op == "Softmax" else {}
        m_ = mlp(extra_nodes=[], outputs=[vi("z", ["N", 10])])
        m_.graph.node.append(oh.make_node(op, ["y"], ["z"], name=f"act_{op}", **attrs))
        out[f"unsup_{op.lower()}"] = save(m_, f"unsup_{op.lower()}.onnx")
    many = model([oh.make_node("Tanh", ["x"], ["t"], name="n_tanh"), oh.make_node("Sin", ["t"], ["s"], name="n_sin"),
                  oh.make_node("Flatten", ["s"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W", "B"], ["g"], transB=1),
                  oh.make_node("Erf", ["g"], ["y"], name="n_erf")], [I("W", W(10, 64)), I("B", W(10))])
    out["unsup_many"] = save(many, "unsup_many.onnx")
    cust = mlp(outputs=[vi("z", ["N", 10])], extra_opsets=[("com.example", 1)])
    cust.graph.node.append(oh.make_node("Frobnicate", ["y"], ["z"], name="frob", domain="com.example"))
    out["unsup_custom_domain"] = save(cust, "unsup_custom_domain.onnx")
    mp = model([oh.make_node("Conv", ["x", "CW", "CB"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                oh.make_node("Relu", ["c"], ["r"]), oh.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                oh.make_node("Flatten", ["p"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W2", "B2"], ["y"], transB=1)],
               [I("CW", W(4, 1, 3, 3)), I("CB", W(4)), I("W2", W(10, 64, scale=0.2)), I("B2", W(10))])
    out["maxpool"] = save(mp, "maxpool.onnx")

    def avgpool(fname, **attrs):
        a = {"kernel_shape": [2, 2], "strides": [2, 2]}
        a.update(attrs)
        a = {k: v for k, v in a.items() if v is not None}
        m_ = model([oh.make_node("Conv", ["x", "CW", "CB"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                    oh.make_node("Relu", ["c"], ["r"]), oh.make_node("AveragePool", ["r"], ["p"], **a),
                    oh.make_node("Flatten", ["p"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W2", "B2"], ["y"], transB=1)],
                   [I("CW", W(4, 1, 3, 3)), I("CB", W(4)), I("W2", W(10, 64, scale=0.2)), I("B2", W(10))])
        return save(m_, fname)

    out["avgpool_valid"] = avgpool("avgpool_valid.onnx")
    out["avgpool_k0"] = avgpool("avgpool_k0.onnx", kernel_shape=[0, 0])
    out["avgpool_s0"] = avgpool("avgpool_s0.onnx", strides=[0, 0])
    out["avgpool_k9"] = avgpool("avgpool_k9.onnx", kernel_shape=[9, 9], strides=[1, 1])
    out["avgpool_pads_gt_kernel"] = avgpool("avgpool_pads_gt_kernel.onnx", pads=[3, 3, 3, 3])
    out["avgpool_no_kernel"] = avgpool("avgpool_no_kernel.onnx", kernel_shape=None)
    # structure
    dn = mlp()
    dn.graph.node[1].name = "flat"
    out["dup_node_names"] = save(dn, "dup_node_names.onnx")
    dv = model([oh.make_node("Flatten", ["x"], ["f"], axis=1), oh.make_node("Flatten", ["x"], ["f"], axis=1),
                oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)], [I("W", W(10, 64)), I("B", W(10))])
    out["dup_value_names"] = save(dv, "dup_value_names.onnx")
    cyc = model([oh.make_node("Add", ["x", "b"], ["a"], name="A"), oh.make_node("Relu", ["a"], ["b"], name="B"),
                 oh.make_node("Flatten", ["b"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                [I("W", W(10, 64)), I("B", W(10))])
    out["cycle"] = save(cyc, "cycle.onnx")
    selfl = model([oh.make_node("Add", ["x", "a"], ["a"], name="A"), oh.make_node("Flatten", ["a"], ["f"], axis=1),
                   oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)], [I("W", W(10, 64)), I("B", W(10))])
    out["self_loop"] = save(selfl, "self_loop.onnx")
    und = model([oh.make_node("Flatten", ["nowhere"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                [I("W", W(10, 64)), I("B", W(10))])
    out["undefined_input"] = save(und, "undefined_input.onnx")
    order = model([oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1), oh.make_node("Flatten", ["x"], ["f"], axis=1)],
                  [I("W", W(10, 64)), I("B", W(10))])
    out["nodes_out_of_order"] = save(order, "nodes_out_of_order.onnx")
    eo = mlp()
    eo.graph.node[0].op_type = ""
    out["empty_op_type"] = save(eo, "empty_op_type.onnx")
    ino = mlp()
    ino.graph.node[0].output[0] = "x"
    ino.graph.node[1].input[0] = "x"
    out["node_overwrites_input"] = save(ino, "node_overwrites_input.onnx")
    # shape arithmetic
    out["gather_oor"] = save(shape_arith(idx=5), "gather_oor.onnx")
    out["gather_neg_oor"] = save(shape_arith(idx=-10), "gather_neg_oor.onnx")
    out["gather_float_idx"] = save(shape_arith(idx=0.0, idx_dtype=np.float32), "gather_float_idx.onnx")
    out["gather_axis_oor"] = save(shape_arith(gather_axis=3), "gather_axis_oor.onnx")
    out["gather_idx1_channels"] = save(shape_arith(idx=1), "gather_idx1_channels.onnx")
    out["reshape_impossible"] = save(shape_arith(reshape_const=np.array([0, 63], np.int64)), "reshape_impossible.onnx")
    out["reshape_two_neg1"] = save(shape_arith(reshape_const=np.array([0, -1, -1], np.int64)), "reshape_two_neg1.onnx")
    out["reshape_neg2"] = save(shape_arith(reshape_const=np.array([0, -2], np.int64)), "reshape_neg2.onnx")
    out["reshape_zeros"] = save(shape_arith(reshape_const=np.array([0, 0], np.int64)), "reshape_zeros.onnx")
    out["reshape_float_shape"] = save(shape_arith(reshape_const=np.array([0, -1], np.float32)), "reshape_float_shape.onnx")
    out["reshape_allowzero"] = save(shape_arith(reshape_const=np.array([0, -1], np.int64), allowzero=1),
                                    "reshape_allowzero.onnx")
    out["reshape_const_4_neg1"] = save(shape_arith(reshape_const=np.array([4, -1], np.int64)), "reshape_const_4_neg1.onnx")
    out["reshape_const_1_neg1"] = save(shape_arith(reshape_const=np.array([1, -1], np.int64)), "reshape_const_1_neg1.onnx")
    out["reshape_batch_merge"] = save(shape_arith(reshape_const=np.array([-1, 128], np.int64)), "reshape_batch_merge.onnx")
    out["reshape_tail_oor"] = save(shape_arith(tail=(300,)), "reshape_tail_oor.onnx")

    def with_constant(fname, **const_attrs):
        m_ = model([oh.make_node("Constant", [], ["W"], name="cst", **const_attrs),
                    oh.make_node("Flatten", ["x"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                   [I("B", W(10))])
        return save(m_, fname)

    out["constant_valid"] = with_constant("constant_valid.onnx", value=I("cv", W(10, 64)))
    out["constant_no_value"] = with_constant("constant_no_value.onnx")
    out["constant_string"] = with_constant("constant_string.onnx", value_string="abc")
    out["constant_nan"] = with_constant("constant_nan.onnx", value=I("cv", np.full((10, 64), np.nan, np.float32)))
    out["constant_two_values"] = with_constant("constant_two_values.onnx", value_float=1.0, value_ints=[1, 2])
    out["constant_scalar_as_weight"] = with_constant("constant_scalar_as_weight.onnx", value_float=0.5)
    # opsets / versions
    out["opset99"] = save(mlp(opset=99), "opset99.onnx")
    out["opset3"] = save(mlp(opset=3), "opset3.onnx")
    out["opset_missing"] = save(mlp(opset=None, extra_opsets=[("com.example", 1)]), "opset_missing.onnx")
    out["neuro_domain_v2"] = save(mlp(extra_opsets=[("ai.neurodeploy", 2)]), "neuro_domain_v2.onnx")
    out["ir_version99"] = save(mlp(ir=99), "ir_version99.onnx")
    out["ir_version1"] = save(mlp(ir=1), "ir_version1.onnx")
    # output shapes vs digits classes
    out["out_5classes"] = save(mlp(w=W(5, 64), b=W(5), out_dims=("N", 5)), "out_5classes.onnx")
    out["out_12classes"] = save(mlp(w=W(12, 64), b=W(12), out_dims=("N", 12)), "out_12classes.onnx")
    out["out_1class"] = save(mlp(w=W(1, 64), b=W(1), out_dims=("N", 1)), "out_1class.onnx")
    o102 = mlp(w=W(20, 64), b=W(20), outputs=[vi("z", ["N", 10, 2])],
               extra_inits=[I("rs", np.array([0, 10, 2], np.int64))])
    o102.graph.node.append(oh.make_node("Reshape", ["y", "rs"], ["z"]))
    out["out_10x2"] = save(o102, "out_10x2.onnx")
    osc = mlp(w=W(1, 64), b=W(1), outputs=[vi("z", ["N"])], extra_inits=[I("rs", np.array([-1], np.int64))])
    osc.graph.node.append(oh.make_node("Reshape", ["y", "rs"], ["z"]))
    out["out_scalar"] = save(osc, "out_scalar.onnx")
    o1x10 = mlp(outputs=[vi("z", ["N", 1, 10])], extra_inits=[I("rs", np.array([0, 1, 10], np.int64))])
    o1x10.graph.node.append(oh.make_node("Reshape", ["y", "rs"], ["z"]))
    out["out_1x10"] = save(o1x10, "out_1x10.onnx")
    # metadata
    out["meta_bad_json"] = save(mlp(meta={"neurodeploy.meta": "{not json"}), "meta_bad_json.onnx")
    out["meta_list"] = save(mlp(meta={"neurodeploy.meta": "[1, 2]"}), "meta_list.onnx")
    out["meta_steps_neg"] = save(mlp(meta={"neurodeploy.meta": '{"num_steps": -1}'}), "meta_steps_neg.onnx")
    out["meta_steps_str"] = save(mlp(meta={"neurodeploy.meta": '{"num_steps": "abc"}'}), "meta_steps_str.onnx")
    out["meta_nan"] = save(mlp(meta={"neurodeploy.meta": '{"x": NaN}'}), "meta_nan.onnx")
    # attributes
    au = mlp()
    au.graph.node[0].attribute.append(oh.make_attribute("foo", 1))
    out["attr_unknown"] = save(au, "attr_unknown.onnx")
    awt = mlp(gemm_attrs={"transB": "yes"})
    out["attr_wrong_type"] = save(awt, "attr_wrong_type.onnx")
    out["flatten_axis5"] = save(model([oh.make_node("Flatten", ["x"], ["f"], axis=5),
                                       oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                                      [I("W", W(10, 64)), I("B", W(10))]), "flatten_axis5.onnx")
    out["flatten_axis_neg10"] = save(model([oh.make_node("Flatten", ["x"], ["f"], axis=-10),
                                            oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                                           [I("W", W(10, 64)), I("B", W(10))]), "flatten_axis_neg10.onnx")
    out["flatten_axis0"] = save(model([oh.make_node("Flatten", ["x"], ["f"], axis=0),
                                       oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                                      [I("W", W(10, 64)), I("B", W(10))]), "flatten_axis0.onnx")
    # element-wise with constants
    for k, c in (("add_nan_const", np.array([np.nan], np.float32)), ("mul_inf_const", np.array([np.inf], np.float32)),
                 ("mul_valid", np.array([0.5], np.float32)), ("add_shape_mismatch", W(3)),
                 ("mul_int_const", np.array([2], np.int64))):
        op = "Add" if k.startswith("add") else "Mul"
        m_ = mlp(outputs=[vi("z", ["N", 10])], extra_inits=[I("k", c)])
        m_.graph.node.append(oh.make_node(op, ["y", "k"], ["z"]))
        out[k] = save(m_, f"{k}.onnx")
    add_branch = model([oh.make_node("Conv", ["x", "CW", "CB"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                        oh.make_node("Conv", ["x", "CW2"], ["c2"], kernel_shape=[3, 3], pads=[0, 0, 0, 0]),
                        oh.make_node("Add", ["c", "c2"], ["s"]), oh.make_node("Flatten", ["s"], ["f"], axis=1),
                        oh.make_node("Gemm", ["f", "W2", "B2"], ["y"], transB=1)],
                       [I("CW", W(4, 1, 3, 3)), I("CB", W(4)), I("CW2", W(4, 1, 3, 3)), I("W2", W(10, 256)), I("B2", W(10))])
    out["add_branch_mismatch"] = save(add_branch, "add_branch_mismatch.onnx")
    cat = model([oh.make_node("Flatten", ["x"], ["f"], axis=1), oh.make_node("Concat", ["f", "f"], ["cc"], axis=1),
                 oh.make_node("Gemm", ["cc", "W", "B"], ["y"], transB=1)], [I("W", W(10, 128)), I("B", W(10))])
    out["concat_dynamic"] = save(cat, "concat_dynamic.onnx")
    dr = mlp(outputs=[vi("z", ["N", 10])], extra_inits=[I("ratio", np.array(1.5, np.float32))])
    dr.graph.node.append(oh.make_node("Dropout", ["y", "ratio"], ["z"]))
    out["dropout_ratio_bad"] = save(dr, "dropout_ratio_bad.onnx")
    # neurodeploy's own domain inside an ANN
    nif = mlp(outputs=[vi("z", ["N", 10])], extra_opsets=[("ai.neurodeploy", 1)])
    nif.graph.node.append(oh.make_node("IF", ["y"], ["z"], domain="ai.neurodeploy", v_th=1.0, reset="subtract", v_init=0.5))
    out["neuro_if_in_ann"] = save(nif, "neuro_if_in_ann.onnx")
    nq = mlp(outputs=[vi("z", ["N", 10])], extra_opsets=[("ai.neurodeploy", 1)])
    nq.graph.node.append(oh.make_node("Quantize", ["y"], ["z"], domain="ai.neurodeploy", scale=0.0, bits=0))
    out["neuro_quantize_bits0"] = save(nq, "neuro_quantize_bits0.onnx")
    nre = model([oh.make_node("RateEncode", ["x"], ["e"], domain="ai.neurodeploy", num_steps=-3),
                 oh.make_node("Flatten", ["e"], ["f"], axis=1), oh.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)],
                [I("W", W(10, 64)), I("B", W(10))], extra_opsets=[("ai.neurodeploy", 1)])
    out["neuro_rateencode_neg"] = save(nre, "neuro_rateencode_neg.onnx")
    # names that are not UTF-8 (same-length byte patch of the serialized file)
    for k, fn in (("bad_utf8_node_name", lambda m: setattr(m.graph.node[1], "name", "QQfcQQ")),
                  ("bad_utf8_graph_name", lambda m: setattr(m.graph, "name", "QQgQQ")),
                  ("bad_utf8_value_name", lambda m: (setattr(m.graph.node[0], "output", None) if False else
                                                     (m.graph.node[0].output.__setitem__(0, "QQfQQ"),
                                                      m.graph.node[1].input.__setitem__(0, "QQfQQ"))))):
        m_ = mlp()
        fn(m_)
        (d / f"{k}.onnx").write_bytes(m_.SerializeToString().replace(b"QQ", b"\xff\xfe"))
        out[k] = d / f"{k}.onnx"
    # files that are not ONNX
    raw = (d / "valid_mlp.onnx").read_bytes()
    (d / "truncated.onnx").write_bytes(raw[: len(raw) // 2])
    out["truncated"] = d / "truncated.onnx"
    (d / "random_bytes.onnx").write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)))
    out["random_bytes"] = d / "random_bytes.onnx"
    (d / "empty.onnx").write_bytes(b"")
    out["empty_file"] = d / "empty.onnx"
    (d / "text.onnx").write_text("this is not an onnx model\n")
    out["text_file"] = d / "text.onnx"
    (d / "dir.onnx").mkdir(exist_ok=True)
    out["dir_onnx"] = d / "dir.onnx"
    return out


def gen_torch_onnx():
    """Small nn modules exported with torch.onnx.export on input 1x1x8x8, and edited copies of them."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper as nh
    from torch import nn

    d = INP / "torch_onnx"
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    x = torch.rand(1, 1, 8, 8)

    class View(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(1, 4, 3, padding=1)
            self.l = nn.Linear(256, 10)

        def forward(self, x):
            x = torch.relu(self.c(x))
            return self.l(x.view(x.size(0), -1))

    class Cat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.l = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(1, 2, 3, padding=1), nn.Linear(256, 10)

        def forward(self, x):
            return self.l(torch.flatten(torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], 1), 1))

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.l = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Linear(256, 10)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.l(torch.flatten(torch.relu(h + self.b(h)), 1))

    class Mul2(nn.Module):
        def __init__(self):
            super().__init__()
            self.l = nn.Linear(64, 10)

        def forward(self, x):
            return self.l(torch.flatten(x * 2.0, 1))

    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.l = nn.Linear(256, 10)

        def forward(self, x):
            return self.l(torch.flatten(nn.functional.interpolate(x, scale_factor=2), 1))

    def seq(*mods):
        return nn.Sequential(*mods)

    fl = nn.Flatten
    models = {
        "t_mlp": seq(fl(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
        "t_cnn": seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), fl(), nn.Linear(64, 10)),
        "t_view": View(),
        "t_bn": seq(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), fl(), nn.Linear(256, 10)),
        "t_stride2": seq(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), fl(), nn.Linear(64, 10)),
        "t_dilation2": seq(nn.Conv2d(1, 4, 3, dilation=2, padding=2), nn.ReLU(), fl(), nn.Linear(256, 10)),
        "t_groups": seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, groups=2), nn.ReLU(),
                        fl(), nn.Linear(256, 10)),
        "t_sigmoid": seq(fl(), nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10)),
        "t_tanh": seq(fl(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)),
        "t_gelu": seq(fl(), nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 10)),
        "t_leaky": seq(fl(), nn.Linear(64, 32), nn.LeakyReLU(0.1), nn.Linear(32, 10)),
        "t_softmax": seq(fl(), nn.Linear(64, 10), nn.Softmax(dim=1)),
        "t_maxpool": seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), fl(), nn.Linear(64, 10)),
        "t_global_avg": seq(nn.Conv2d(1, 10, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), fl()),
        "t_upsample": Up(),
        "t_5classes": seq(fl(), nn.Linear(64, 5)),
        "t_cat": Cat(),
        "t_residual": Residual(),
        "t_mul2": Mul2(),
        "t_prelu": seq(fl(), nn.Linear(64, 32), nn.PReLU(), nn.Linear(32, 10)),
        "t_layernorm": seq(fl(), nn.Linear(64, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 10)),
    }
    out = {}
    for name, m in models.items():
        m.eval()
        try:
            torch.onnx.export(m, x, str(d / f"{name}.onnx"), input_names=["x"], output_names=["y"], opset_version=17,
                              dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
            out[name] = d / f"{name}.onnx"
        except Exception as e:
            SETUP_FAILED[f"torch_onnx:{name}"] = f"{type(e).__name__}: {e}"
    mlp = seq(fl(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
    torch.onnx.export(mlp, x, str(d / "t_static.onnx"), input_names=["x"], output_names=["y"], opset_version=17)
    out["t_static"] = d / "t_static.onnx"
    torch.onnx.export(mlp, x, str(d / "t_opset9.onnx"), input_names=["x"], output_names=["y"], opset_version=9,
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    out["t_opset9"] = d / "t_opset9.onnx"
    torch.onnx.export(mlp, x, str(d / "t_dyn_hw.onnx"), input_names=["x"], output_names=["y"], opset_version=17,
                      dynamic_axes={"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N"}})
    out["t_dyn_hw"] = d / "t_dyn_hw.onnx"
    nanm = seq(fl(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
    with torch.no_grad():
        nanm[1].weight[0, 0] = float("nan")
    torch.onnx.export(nanm, x, str(d / "t_nan.onnx"), input_names=["x"], output_names=["y"], opset_version=17,
                      do_constant_folding=False)
    out["t_nan"] = d / "t_nan.onnx"
    infm = seq(fl(), nn.Linear(64, 10)).eval()
    with torch.no_grad():
        infm[1].bias[:] = float("inf")
    torch.onnx.export(infm, x, str(d / "t_inf.onnx"), input_names=["x"], output_names=["y"], opset_version=17)
    out["t_inf"] = d / "t_inf.onnx"

    # edited copies of the exported view model (real exporter output, one thing changed)
    base = onnx.load(str(d / "t_view.onnx"))

    def edited(fname, fn):
        m = onnx.ModelProto()
        m.CopyFrom(base)
        fn(m)
        onnx.save(m, str(d / fname))
        out[fname[:-5]] = d / fname

    def gather_oor(m):
        for n in m.graph.node:
            if n.op_type == "Gather":
                for cn in m.graph.node:
                    if cn.op_type == "Constant" and cn.output[0] == n.input[1]:
                        cn.attribute[0].t.CopyFrom(nh.from_array(np.array(7, np.int64)))
                        return
                for t in m.graph.initializer:
                    if t.name == n.input[1]:
                        t.CopyFrom(nh.from_array(np.array(7, np.int64), t.name))
                        return
        raise RuntimeError("no Gather in exported t_view")

    def opset99(m):
        m.opset_import[0].version = 99

    def weight_nan(m):
        t = max(m.graph.initializer, key=lambda t: np.prod(t.dims))
        a = nh.to_array(t).copy()
        a.reshape(-1)[::7] = np.nan
        t.CopyFrom(nh.from_array(a, t.name))

    def outputs_cleared(m):
        del m.graph.output[:]

    def output_renamed(m):
        m.graph.output[0].name = "nothing"

    def weight_transposed(m):
        t = max(m.graph.initializer, key=lambda t: np.prod(t.dims))
        a = nh.to_array(t).copy()
        t.CopyFrom(nh.from_array(np.ascontiguousarray(a.T), t.name))

    def weight_int(m):
        t = max(m.graph.initializer, key=lambda t: np.prod(t.dims))
        t.CopyFrom(nh.from_array((nh.to_array(t) * 100).astype(np.int32), t.name))

    for fname, fn in (("t_view_gather_oor.onnx", gather_oor), ("t_view_opset99.onnx", opset99),
                      ("t_view_weight_nan.onnx", weight_nan), ("t_view_no_outputs.onnx", outputs_cleared),
                      ("t_view_output_renamed.onnx", output_renamed), ("t_view_weight_T.onnx", weight_transposed),
                      ("t_view_weight_int.onnx", weight_int)):
        try:
            edited(fname, fn)
        except Exception as e:
            SETUP_FAILED[f"torch_onnx:{fname}"] = f"{type(e).__name__}: {e}"
    return out


# ============================================================================================ generators: .pt

DEF_GOOD = '''
import torch
from torch import nn
INPUT_SHAPE = (1, 8, 8)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(64, 32)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(32, 10)
    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flat(x))))
'''


def gen_pt():
    import numpy as np
    import torch
    from torch import nn

    d = INP / "pt"
    d.mkdir(parents=True, exist_ok=True)
    (d / "good.py").write_text(DEF_GOOD)
    body = DEF_GOOD.split("class Net")[1]
    defs = {
        "noshape.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)\n", ""),
        "syntax_error.py": DEF_GOOD + "\ndef broken(:\n    pass\n",
        "raise_import.py": DEF_GOOD + "\nraise RuntimeError('definition refuses to import')\n",
        "sys_exit.py": DEF_GOOD + "\nimport sys\nsys.exit(3)\n",
        "import_missing.py": "import no_such_module_xyz\n" + DEF_GOOD,
        "not_module.py": DEF_GOOD + "\nclass Foo:\n    pass\n",
        "func_int.py": DEF_GOOD + "\ndef Factory():\n    return 42\n",
        "func_ok.py": DEF_GOOD + "\ndef Factory():\n    return Net()\n",
        "int_attr.py": DEF_GOOD + "\nNumber = 5\n",
        "ctor_args.py": DEF_GOOD.replace("def __init__(self):", "def __init__(self, width):"),
        "ctor_raises.py": DEF_GOOD.replace("super().__init__()", "super().__init__()\n        raise ValueError('no')"),
        "forward_raises.py": DEF_GOOD.replace("return self.fc2(", "raise RuntimeError('forward broke')\n        return self.fc2("),
        "forward_tuple.py": DEF_GOOD.replace("return self.fc2(self.relu(self.fc1(self.flat(x))))",
                                             "y = self.fc2(self.relu(self.fc1(self.flat(x))))\n        return y, y"),
        "forward_dict.py": DEF_GOOD.replace("return self.fc2(self.relu(self.fc1(self.flat(x))))",
                                            "return {'out': self.fc2(self.relu(self.fc1(self.flat(x))))}"),
        "forward_none.py": DEF_GOOD.replace("return self.fc2(self.relu(self.fc1(self.flat(x))))",
                                            "self.fc2(self.relu(self.fc1(self.flat(x))))\n        return None"),
        "forward_sigmoid.py": DEF_GOOD.replace("self.relu(self.fc1", "torch.sigmoid(self.fc1"),
        "forward_dataflow.py": DEF_GOOD.replace("return self.fc2(", "if x.sum() > 0:\n            x = x * 1.0\n        return self.fc2("),
        "forward_recursion.py": DEF_GOOD.replace("return self.fc2(self.relu(self.fc1(self.flat(x))))",
                                                 "return self.forward(x)"),
        "forward_input_unused.py": DEF_GOOD.replace("return self.fc2(self.relu(self.fc1(self.flat(x))))",
                                                    "return self.fc2.bias.unsqueeze(0)"),
        "forward_5out.py": DEF_GOOD.replace("nn.Linear(32, 10)", "nn.Linear(32, 5)"),
        "forward_inplace_relu.py": DEF_GOOD.replace("nn.ReLU()", "nn.ReLU(inplace=True)"),
        "shape_str.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = 'abc'"),
        "shape_zero.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = (0, 8, 8)"),
        "shape_neg.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = (-1, 8, 8)"),
        "shape_empty.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = ()"),
        "shape_float.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = (1.5, 8, 8)"),
        "shape_bool.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = (True, 8, 8)"),
        "shape_wrong.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = (1, 9, 9)"),
        "shape_huge.py": DEF_GOOD.replace("INPUT_SHAPE = (1, 8, 8)", "INPUT_SHAPE = (100000, 100000, 100000)"),
        "bn.py": '''
import torch
from torch import nn
INPUT_SHAPE = (1, 8, 8)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(256, 10)
    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.bn(self.conv(x))), 1))
''',
        "view.py": DEF_GOOD.replace("self.fc1(self.flat(x))", "self.fc1(x.view(x.size(0), -1))"),
        "maxpool.py": DEF_GOOD.replace("self.flat = nn.Flatten()", "self.flat = nn.Sequential(nn.MaxPool2d(2), nn.Flatten())").replace("nn.Linear(64, 32)", "nn.Linear(16, 32)"),
        "lstm.py": DEF_GOOD.replace("self.relu = nn.ReLU()", "self.relu = nn.ReLU()\n        self.rnn = nn.LSTM(64, 64)").replace("self.fc1(self.flat(x))", "self.fc1(self.rnn(self.flat(x).unsqueeze(0))[0][0])"),
        "conv3ch.py": DEF_GOOD.replace("self.flat = nn.Flatten()", "self.flat = nn.Sequential(nn.Conv2d(3, 1, 1), nn.Flatten())"),
        "state_leak.py": DEF_GOOD + "\nimport numpy\nnumpy.seterr(all='raise')\n",
    }
    for name, text in defs.items():
        (d / name).write_text(text)
    (d / "good.txt").write_text(DEF_GOOD)
    (d / "dir.py").mkdir(exist_ok=True)

    ns = {}
    exec(compile(DEF_GOOD, "good", "exec"), ns)
    torch.manual_seed(0)
    net = ns["Net"]()
    sd = net.state_dict()

    def save(obj, name):
        torch.save(obj, d / name)
        return d / name

    def mod(**changes):
        s = {k: v.clone() for k, v in sd.items()}
        for k, v in changes.items():
            if v is None:
                s.pop(k)
            else:
                s[k] = v
        return s

    save(sd, "good.pt")
    save([1, 2, 3], "ckpt_list.pt")
    save(torch.zeros(3), "ckpt_tensor.pt")
    save(7, "ckpt_int.pt")
    save(None, "ckpt_none.pt")
    save({0: torch.zeros(3)}, "ckpt_int_keys.pt")
    save(mod(**{"fc1.bias": "a string"}), "ckpt_str_value.pt")
    save(mod(**{"fc1.bias": 3}), "ckpt_int_value.pt")
    save(mod(**{"fc2.weight": None}), "ckpt_missing_key.pt")
    save({**sd, "fc3.weight": torch.zeros(3, 3)}, "ckpt_extra_key.pt")
    s = mod(**{"fc2.weight": None})
    s["bogus.weight"] = torch.zeros(2)
    save(s, "ckpt_missing_and_extra.pt")
    save(mod(**{"fc1.weight": torch.zeros(32, 63)}), "ckpt_wrong_shape.pt")
    w = sd["fc2.weight"].clone(); w[0, 0] = float("nan")
    save(mod(**{"fc1.weight": torch.zeros(32, 63), "fc2.weight": w}), "ckpt_shape_and_nan.pt")
    save(mod(**{"fc2.weight": w}), "ckpt_nan.pt")
    wi = sd["fc1.bias"].clone(); wi[:] = float("inf")
    save(mod(**{"fc1.bias": wi}), "ckpt_inf.pt")
    save(mod(**{"fc1.weight": (sd["fc1.weight"] * 100).to(torch.int64)}), "ckpt_int_dtype.pt")
    save({k: v.double() for k, v in sd.items()}, "ckpt_f64.pt")
    save({k: v.half() for k, v in sd.items()}, "ckpt_f16.pt")
    save({k: v.bfloat16() for k, v in sd.items()}, "ckpt_bf16.pt")
    save(mod(**{"fc1.weight": sd["fc1.weight"].to(torch.complex64)}), "ckpt_complex.pt")
    save(mod(**{"fc1.weight": sd["fc1.weight"] > 0}), "ckpt_bool.pt")
    save({"state_dict": sd, "epoch": 3}, "ckpt_nested.pt")
    save({f"module.{k}": v for k, v in sd.items()}, "ckpt_module_prefix.pt")
    save(nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), "ckpt_full_module.pt")
    save({}, "ckpt_empty_dict.pt")
    save(mod(**{"fc1.weight": sd["fc1.weight"].to_sparse()}), "ckpt_sparse.pt")
    save(mod(**{"fc1.weight": torch.zeros(32, 0)}), "ckpt_zero_size.pt")
    save(mod(**{"fc1.weight": torch.full((32, 64), 1e30)}), "ckpt_huge_values.pt")
    save(mod(**{"fc1.weight": torch.zeros(32, 64), "fc2.weight": torch.zeros(10, 32)}), "ckpt_all_zero.pt")
    save(mod(**{"fc1.weight": sd["fc1.weight"].t().contiguous().t()}), "ckpt_noncontig.pt")
    (d / "ckpt_numpy.pt").write_bytes(b"")
    torch.save({k: v.numpy() for k, v in sd.items()}, d / "ckpt_numpy.pt")
    (d / "ckpt_empty_file.pt").write_bytes(b"")
    (d / "ckpt_random.pt").write_bytes(bytes(np.random.default_rng(2).integers(0, 256, 2048, dtype=np.uint8)))
    raw = (d / "good.pt").read_bytes()
    (d / "ckpt_truncated.pt").write_bytes(raw[: len(raw) // 2])
    (d / "ckpt_dir.pt").mkdir(exist_ok=True)
    (d / "good.pth").write_bytes(raw)
    # BatchNorm definition + checkpoints
    nsb = {}
    exec(compile(defs["bn.py"], "bn", "exec"), nsb)
    bnet = nsb["Net"]()
    bsd = bnet.state_dict()
    save(bsd, "bn_good.pt")
    for name in ("lstm", "conv3ch", "maxpool"):
        nsx = {}
        exec(compile(defs[f"{name}.py"], name, "exec"), nsx)
        save(nsx["Net"]().state_dict(), f"def_{name}.pt")
    b2 = {k: v.clone() for k, v in bsd.items()}
    b2["bn.running_var"] = -torch.ones(4)
    save(b2, "bn_neg_var.pt")
    b3 = {k: v.clone() for k, v in bsd.items()}
    b3["bn.num_batches_tracked"] = torch.tensor(1.5)
    save(b3, "bn_nbt_float.pt")
    b4 = {k: v.clone() for k, v in bsd.items()}
    b4["bn.running_var"] = torch.zeros(4)
    b4["bn.weight"] = torch.ones(4)
    save(b4, "bn_zero_var.pt")
    for name in ("digits_mlp.pt", "digits_cnn.pt"):
        if (ZOO_CKPT / name).is_file():
            shutil.copy(ZOO_CKPT / name, d / name)
        else:
            SETUP_FAILED[f"pt:{name}"] = "zoo checkpoint missing"
    return d


# ============================================================================================ generators: .npz

def gen_npz():
    import numpy as np

    d = INP / "npz"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    from sklearn.datasets import load_digits

    dg = load_digits()
    x = (dg.images / 16.0).astype(np.float32)[:, None]
    y = dg.target.astype(np.int64)
    good = dict(x_train=x[:300], y_train=y[:300], x_test=x[300:400], y_test=y[300:400])

    def save(name, **arrays):
        p = d / name
        np.savez(p, **arrays)
        return p

    def var(**changes):
        a = dict(good)
        for k, v in changes.items():
            if v is None:
                a.pop(k)
            else:
                a[k] = v
        return a

    save("valid.npz", **good)
    save("valid_small.npz", x_train=x[:2], y_train=y[:2], x_test=x[2:4], y_test=y[2:4])
    save("valid_uint8.npz", **var(x_train=(x[:300] * 255).astype(np.uint8), x_test=(x[300:400] * 255).astype(np.uint8)))
    save("valid_bool.npz", **var(x_train=x[:300] > 0.5, x_test=x[300:400] > 0.5))
    save("valid_f64.npz", **var(x_train=x[:300].astype(np.float64), x_test=x[300:400].astype(np.float64)))
    save("valid_int32_labels.npz", **var(y_train=y[:300].astype(np.int32), y_test=y[300:400].astype(np.int32)))
    save("valid_labels_subset.npz", **var(y_train=y[:300] % 5, y_test=y[300:400] % 5))
    save("valid_extra_keys.npz", **good, notes=np.array([1, 2, 3]))
    save("valid_one_class.npz", **var(y_train=np.zeros(300, np.int64), y_test=np.zeros(100, np.int64)))
    save("x_large_values.npz", **var(x_train=x[:300] * 1e6, x_test=x[300:400] * 1e6))
    save("x_all_zero.npz", **var(x_train=np.zeros_like(x[:300]), x_test=np.zeros_like(x[300:400])))
    save("missing_x_test.npz", **var(x_test=None))
    save("missing_two.npz", **var(x_test=None, y_train=None))
    save("only_other_keys.npz", foo=np.zeros(3))
    save("keys_misnamed.npz", X_train=x[:300], Y_train=y[:300], X_test=x[300:400], Y_test=y[300:400])
    save("empty_train.npz", **var(x_train=np.zeros((0, 1, 8, 8), np.float32), y_train=np.zeros(0, np.int64)))
    save("empty_test.npz", **var(x_test=np.zeros((0, 1, 8, 8), np.float32), y_test=np.zeros(0, np.int64)))
    save("empty_both.npz", x_train=np.zeros((0, 1, 8, 8), np.float32), y_train=np.zeros(0, np.int64),
         x_test=np.zeros((0, 1, 8, 8), np.float32), y_test=np.zeros(0, np.int64))
    save("x_strings.npz", **var(x_train=np.full((300, 1, 8, 8), "a")))
    np.savez(d / "x_object.npz", **var(x_train=np.array([None] * 300, dtype=object)))
    xn = x[:300].copy(); xn[5, 0, 3, 3] = np.nan
    save("x_nan.npz", **var(x_train=xn))
    xi = x[300:400].copy(); xi[7, 0, 0, 0] = np.inf
    save("x_inf.npz", **var(x_test=xi))
    xh = x[:300].astype(np.float64); xh[0, 0, 0, 0] = 1e39
    save("x_beyond_f32.npz", **var(x_train=xh))
    save("x_complex.npz", **var(x_train=x[:300].astype(np.complex64)))
    save("y_float.npz", **var(y_train=y[:300] + 0.5))
    save("y_float_integral.npz", **var(y_train=y[:300].astype(np.float32), y_test=y[300:400].astype(np.float32)))
    yn = y[:300].copy(); yn[3] = -1
    save("y_neg.npz", **var(y_train=yn))
    save("y_100.npz", **var(y_train=rng.integers(0, 100, 300), y_test=rng.integers(0, 100, 100)))
    y10 = y[300:400].copy(); y10[0] = 10
    save("y_10.npz", **var(y_test=y10))
    save("y_bool.npz", **var(y_train=y[:300] > 4, y_test=y[300:400] > 4))
    save("y_uint64_huge.npz", **var(y_train=np.full(300, 2 ** 63 + 5, np.uint64)))
    save("y_onehot.npz", **var(y_train=np.eye(10, dtype=np.int64)[y[:300]], y_test=np.eye(10, dtype=np.int64)[y[300:400]]))
    save("y_strings.npz", **var(y_train=y[:300].astype(str)))
    save("len_mismatch_train.npz", **var(y_train=y[:290]))
    save("len_mismatch_test.npz", **var(x_test=x[300:350]))
    save("shape_1x9x9.npz", **var(x_train=rng.random((300, 1, 9, 9), np.float32), x_test=rng.random((100, 1, 9, 9), np.float32)))
    save("shape_flat64.npz", **var(x_train=x[:300].reshape(300, 64), x_test=x[300:400].reshape(100, 64)))
    save("shape_8x8.npz", **var(x_train=x[:300, 0], x_test=x[300:400, 0]))
    save("shape_train_test_differ.npz", **var(x_test=rng.random((100, 1, 9, 9), np.float32)))
    save("zero_dim.npz", **var(x_train=np.zeros((300, 1, 0, 8), np.float32), x_test=np.zeros((100, 1, 0, 8), np.float32)))
    save("x_1d.npz", **var(x_train=np.zeros(300, np.float32)))
    save("x_scalar.npz", **var(x_train=np.float32(1.0)))
    save("y_scalar.npz", **var(y_train=np.int64(3)))
    save("many_problems.npz", **var(x_train=xn, y_test=np.full(100, -3, np.int64)))
    save("vgg_input.npz", x_train=rng.random((4, 3, 32, 32), np.float32), y_train=np.arange(4) % 10,
         x_test=rng.random((4, 3, 32, 32), np.float32), y_test=np.arange(4) % 10)
    (d / "dir.npz").mkdir(exist_ok=True)
    (d / "text.npz").write_text("x_train,y_train\n1,2\n")
    (d / "empty.npz").write_bytes(b"")
    raw = (d / "valid.npz").read_bytes()
    (d / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    np.save(d / "array.npy", x[:10])
    shutil.copy(d / "array.npy", d / "npy_renamed.npz")
    shutil.copy(d / "valid.npz", d / "valid_no_suffix.dat")
    return d


# ============================================================================================ generators: NIR

def gen_nir():
    """Broken NIR files (bytes and content) and event data sets for the shared Braille SRNN (12 inputs, 7 classes)."""
    import h5py
    import numpy as np

    d = INP / "nir"
    d.mkdir(parents=True)
    good = NIR_DIR / "braille_noDelay_bias_zero.nir"
    if not good.is_file():
        SETUP_FAILED["nir"] = f"missing from {NIR_DIR}"
        return d
    data = good.read_bytes()
    (d / "truncated.nir").write_bytes(data[: len(data) // 2])
    (d / "random.nir").write_bytes(np.random.default_rng(0).bytes(4096))
    (d / "empty.nir").write_bytes(b"")
    edits = {
        "nan_weight": lambda f: f["node/nodes/fc1/weight"].__setitem__((0, 0), np.nan),
        "negative_tau": lambda f: f["node/nodes/lif2/tau_mem"].__setitem__(0, -1e-3),
        "unknown_type": lambda f: _replace(f, "node/nodes/fc2/type", b"Mystery"),
        "dangling_edge": lambda f: _replace(f, "node/edges", np.array([[b"nowhere", b"fc1"]] + f["node/edges"][1:].tolist(),
                                                                  dtype=h5py.string_dtype())),
        "wrong_weight_shape": lambda f: _replace(f, "node/nodes/fc2/weight", np.zeros((7, 5), np.float32)),
    }
    for name, edit in edits.items():
        shutil.copy(good, d / f"{name}.nir")
        try:
            with h5py.File(d / f"{name}.nir", "r+") as f:
                edit(f)
        except Exception as e:
            SETUP_FAILED[f"nir:{name}"] = f"{type(e).__name__}: {e}"
    rng = np.random.default_rng(1)
    events = lambda n, t=20, c=12: (rng.random((n, t, c)) < 0.3).astype(np.float32)
    labels = lambda n, top=7: rng.integers(0, top, n)
    np.savez(d / "events_ok.npz", x_train=events(6), y_train=labels(6), x_test=events(5), y_test=labels(5))
    np.savez(d / "events_no_time.npz", x_train=events(6)[:, 0], y_train=labels(6), x_test=events(5)[:, 0],
             y_test=labels(5))
    counts = events(5) * 3
    np.savez(d / "events_counts.npz", x_train=events(6), y_train=labels(6), x_test=counts, y_test=labels(5))
    np.savez(d / "events_labels.npz", x_train=events(6), y_train=labels(6, 12), x_test=events(5), y_test=labels(5))
    return d


def _replace(f, key: str, value) -> None:
    del f[key]
    f[key] = value


# ============================================================================================ generators: netx

def gen_netx():
    import h5py
    import numpy as np

    d = INP / "netx"
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for f in ("mnist_dense.net", "tiny.net", "oxford.net"):
        if (NETX_DIR / f).is_file():
            shutil.copy(NETX_DIR / f, d / f"valid_{f}")
            os.chmod(d / f"valid_{f}", 0o644)
        else:
            SETUP_FAILED[f"netx:{f}"] = f"missing from {NETX_DIR}"

    def edit(name, fn, src="valid_mnist_dense.net"):
        p = d / f"{name}.net"
        shutil.copy(d / src, p)
        os.chmod(p, 0o644)
        try:
            with h5py.File(p, "r+") as h:
                fn(h)
        except Exception as e:
            SETUP_FAILED[f"netx:{name}"] = f"{type(e).__name__}: {e}"
        out[name] = p

    def setds(h, path, value):
        if path in h:
            del h[path]
        h[path] = value

    def delete(path):
        return lambda h: h.__delitem__(path)

    def moved(src, dst):
        return lambda h: h.move(src, dst)

    edits = {
        "no_layer": delete("layer"),
        "layer_empty": lambda h: [h["layer"].__delitem__(k) for k in list(h["layer"])],
        "layer_missing_1": delete("layer/1"),
        "layer_name_a": moved("layer/2", "layer/a"),
        "layer_name_01": moved("layer/1", "layer/01"),
        "layer_name_neg": moved("layer/2", "layer/-1"),
        "layer_is_dataset_member": lambda h: (h["layer"].__delitem__("2"), h["layer"].create_dataset("2", data=[1, 2])),
        "type_missing": delete("layer/1/type"),
        "type_bogus": lambda h: setds(h, "layer/1/type", np.array([b"bogus"], dtype="S10")),
        "type_pool": lambda h: setds(h, "layer/1/type", np.array([b"pool"], dtype="S10")),
        "type_number": lambda h: setds(h, "layer/1/type", 5),
        "weight_missing": delete("layer/1/weight"),
        "weight_string": lambda h: setds(h, "layer/1/weight", np.array([b"abc"] * 4)),
        "weight_shape": lambda h: setds(h, "layer/2/weight", np.zeros((10, 63), np.float32)),
        "weight_nan": lambda h: setds(h, "layer/1/weight", np.full((64, 128), np.nan, np.float32)),
        "weight_inf": lambda h: setds(h, "layer/1/weight", np.full((64, 128), np.inf, np.float32)),
        "weight_fraction": lambda h: setds(h, "layer/1/weight", np.full((64, 128), 0.5, np.float32)),
        "weight_out_of_range": lambda h: setds(h, "layer/1/weight", np.full((64, 128), 1000, np.float32)),
        "weight_3d": lambda h: setds(h, "layer/1/weight", np.zeros((64, 128, 2), np.float32)),
        "weight_empty": lambda h: setds(h, "layer/1/weight", np.zeros((0,), np.float32)),
        "weight_scalar": lambda h: setds(h, "layer/1/weight", np.float32(2)),
        "weight_all_zero": lambda h: setds(h, "layer/1/weight", np.zeros((64, 128), np.float32)),
        "shape_neg": lambda h: setds(h, "layer/1/shape", np.array([-64])),
        "shape_zero": lambda h: setds(h, "layer/1/shape", np.array([0])),
        "shape_string": lambda h: setds(h, "layer/1/shape", np.array([b"64"])),
        "shape_4d": lambda h: setds(h, "layer/1/shape", np.array([1, 1, 8, 8])),
        "shape_mismatch": lambda h: setds(h, "layer/1/shape", np.array([65])),
        "shape_float": lambda h: setds(h, "layer/1/shape", np.array([64.5])),
        "shape_missing": delete("layer/1/shape"),
        "neuron_missing": delete("layer/1/neuron"),
        "neuron_dataset": lambda h: (h.__delitem__("layer/1/neuron"), h.create_dataset("layer/1/neuron", data=1)),
        "neuron_type_bogus": lambda h: setds(h, "layer/1/neuron/type", b"BOGUS"),
        "neuron_type_sdnn": lambda h: setds(h, "layer/1/neuron/type", b"SDNN"),
        "neuron_type_missing": delete("layer/1/neuron/type"),
        "neuron_type_int": lambda h: setds(h, "layer/1/neuron/type", 3),
        "iDecay_neg": lambda h: setds(h, "layer/1/neuron/iDecay", -1),
        "vDecay_5000": lambda h: setds(h, "layer/1/neuron/vDecay", 5000),
        "vThMant_huge": lambda h: setds(h, "layer/1/neuron/vThMant", 2 ** 20),
        "vThMant_zero": lambda h: setds(h, "layer/1/neuron/vThMant", 0),
        "vThMant_string": lambda h: setds(h, "layer/1/neuron/vThMant", b"sixty"),
        "vThMant_nan": lambda h: setds(h, "layer/1/neuron/vThMant", np.nan),
        "vThMant_float": lambda h: setds(h, "layer/1/neuron/vThMant", 64.5),
        "vThMant_array": lambda h: setds(h, "layer/1/neuron/vThMant", np.array([64, 64])),
        "refDelay_0": lambda h: setds(h, "layer/1/neuron/refDelay", 0),
        "refDelay_5": lambda h: setds(h, "layer/1/neuron/refDelay", 5),
        "gradedSpike_true": lambda h: setds(h, "layer/1/neuron/gradedSpike", True),
        "gradedSpike_string": lambda h: setds(h, "layer/1/neuron/gradedSpike", b"yes"),
        "tSample_0": lambda h: setds(h, "simulation/tSample", 0),
        "tSample_neg": lambda h: setds(h, "simulation/tSample", -1),
        "tSample_1e12_float": lambda h: setds(h, "simulation/tSample", 1e12),
        "tSample_1e12_int": lambda h: setds(h, "simulation/tSample", 10 ** 12),
        "tSample_string": lambda h: setds(h, "simulation/tSample", b"abc"),
        "tSample_1": lambda h: setds(h, "simulation/tSample", 1),
        "tSample_1p5": lambda h: setds(h, "simulation/tSample", 1.5),
        "tSample_nan": lambda h: setds(h, "simulation/tSample", np.nan),
        "tSample_missing": lambda h: h.create_group("simulation"),
        "simulation_dataset": lambda h: h.create_dataset("simulation", data=5),
        "inFeatures_mismatch": lambda h: setds(h, "layer/1/inFeatures", 127),
        "outFeatures_mismatch": lambda h: setds(h, "layer/1/outFeatures", 65),
        "bias_len": lambda h: setds(h, "layer/1/bias", np.zeros(7, np.float32)),
        "bias_nan": lambda h: setds(h, "layer/1/bias", np.full(64, np.nan, np.float32)),
        "bias_out_of_range": lambda h: setds(h, "layer/1/bias", np.full(64, 1e6, np.float32)),
        "delay_present": lambda h: setds(h, "layer/1/delay", np.ones(64, np.float32)),
        "many_problems": lambda h: (setds(h, "layer/0/weight", np.full((128, 784), np.nan, np.float32)),
                                    setds(h, "layer/2/type", np.array([b"bogus"], dtype="S10"))),
        "extra_unknown_group": lambda h: h.create_group("layer/1/whatever").create_dataset("x", data=1),
    }
    for name, fn in edits.items():
        edit(name, fn)
    conv_edits = {
        "conv_stride0": lambda h: setds(h, "layer/1/stride", np.array([0, 0])),
        "conv_kernel_mismatch": lambda h: setds(h, "layer/1/kernelSize", np.array([3, 3])),
        "conv_padding_neg": lambda h: setds(h, "layer/1/padding", np.array([-1, -1])),
        "conv_dilation0": lambda h: setds(h, "layer/1/dilation", np.array([0, 0])),
        "conv_groups0": lambda h: setds(h, "layer/1/groups", 0),
        "conv_groups5": lambda h: setds(h, "layer/1/groups", 5),
        "conv_inch_mismatch": lambda h: setds(h, "layer/1/inChannels", 4),
        "conv_chain_mismatch": lambda h: setds(h, "layer/2/shape", np.array([36, 2, 2])),
        "conv_weight_4d": lambda h: setds(h, "layer/1/weight", np.zeros((24, 3, 5, 5), np.float32)),
        "conv_stride_3": lambda h: setds(h, "layer/1/stride", np.array([1, 1, 1])),
        "input_weight_nan": lambda h: setds(h, "layer/0/weight", np.array([np.nan], np.float32)),
        "input_shape_neg": lambda h: setds(h, "layer/0/shape", np.array([3, -16, 16])),
        "input_only": lambda h: [h["layer"].__delitem__(k) for k in ("1", "2")],
        "input_in_middle": moved("layer/0", "layer/3"),
    }
    for name, fn in conv_edits.items():
        edit(f"tiny_{name}", fn, src="valid_tiny.net")
    raw = (d / "valid_mnist_dense.net").read_bytes()
    (d / "truncated.net").write_bytes(raw[: len(raw) // 3])
    (d / "random.net").write_bytes(bytes(np.random.default_rng(4).integers(0, 256, 8192, dtype=np.uint8)))
    (d / "empty.net").write_bytes(b"")
    (d / "dir.net").mkdir(exist_ok=True)
    with h5py.File(d / "hdf5_empty.net", "w"):
        pass
    (d / "text.net").write_text("layer/0/type dense\n")
    return d


# ============================================================================================ base builds

BASE_BUILDS = {
    "loihi2": ["compile", "digits_mlp", "--target", "loihi2", "--steps", "8", "--eval-samples", "20"],
    "loihi1": ["compile", "digits_mlp", "--target", "loihi1", "--steps", "8", "--eval-samples", "20"],
    "ref": ["compile", "digits_mlp", "--target", "ref", "--steps", "8", "--eval-samples", "20"],
    "truenorth": ["compile", "digits_mlp", "--target", "truenorth", "--steps", "8", "--eval-samples", "20"],
    "all": ["compile", "digits_mlp", "--target", "all", "--steps", "8", "--eval-samples", "20"],
    "netx": ["compile", str(NETX_DIR / "mnist_dense.net"), "--target", "loihi2"],
    "codings": ["codings", "digits_mlp", "--codings", "rate", "--rate-steps", "8", "--eval-samples", "20",
                "--target", "ref"],
}


def gen_bases():
    BASES.mkdir(parents=True, exist_ok=True)
    for name, argv in BASE_BUILDS.items():
        out = BASES / name
        r = subprocess.run([ND, *argv, "-o", str(out)], capture_output=True, text=True, timeout=300, cwd=BASES)
        if r.returncode != 0 or not (out / ("comparison.json" if name == "codings" else "report.json")).is_file():
            SETUP_FAILED[f"base:{name}"] = f"exit {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}"


# --- damage helpers (used by prep callables) --------------------------------------------------------

def content_hash(report: dict) -> str:
    """What neurodeploy's report_sha256 is: SHA-256 of the canonical JSON without the field itself."""
    body = {k: v for k, v in report.items() if k != "report_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, allow_nan=False).encode()).hexdigest()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_base(name: str, dst: Path) -> Path:
    shutil.copytree(BASES / name, dst, symlinks=True)
    return dst


def forge(build: Path, edit=None, rehash_files=True):
    """Edit report.json with ``edit(report)``, refresh the listed file hashes and the self hash: what a careful
    forger (or a script that 'fixes up' a build) would do."""
    p = build / "report.json"
    rep = json.loads(p.read_text())
    if edit:
        edit(rep)
    if rehash_files and isinstance(rep.get("files"), dict):
        for name in list(rep["files"]):
            f = build / name
            if f.is_file():
                rep["files"][name] = sha(f)
    rep["report_sha256"] = content_hash(rep)
    p.write_text(json.dumps(rep, indent=2) + "\n")


def edit_onnx(path: Path, fn):
    import onnx

    m = onnx.load(str(path))
    fn(m)
    onnx.save(m, str(path))


# ============================================================================================ case lists

def cases_onnx(paths: dict, tpaths: dict):
    ref = ["--dataset", "digits", *FAST, "-o", "{OUT}"]
    expect = {
        # valid files
        "valid_mlp": "ok", "valid_hidden": "ok", "valid_conv": "ok", "valid_shape_arith": "ok", "valid_batch1": "ok",
        "valid_matmul_add": "ok", "valid_identity": "ok", "valid_bn": "ok", "conv_autopad_same": "either",
        "conv_no_bias": "ok", "conv_empty_bias_name": "ok", "conv_stride2_valid": "ok", "avgpool_valid": "ok",
        "constant_valid": "ok", "mul_valid": "either", "out_12classes": "either", "gemm_alpha2": "either",
        "gemm_beta0": "either", "nan_unused_init": "either", "two_outputs": "either", "output_twice": "either",
        "dup_node_names": "either", "dropout_ratio_bad": "either", "uint8_weight": "refuse",
        "fp64_weight": "refuse", "fp16_weight": "refuse", "int_weight": "refuse", "int32_bias": "refuse",
        "gemm_transA1": "refuse", "out_1x10": "either", "reshape_batch_merge": "refuse", "mul_int_const": "refuse",
        "gather_idx1_channels": "refuse", "reshape_const_1_neg1": "either", "conv_pads_and_autopad": "refuse", "conv_strides_huge": "either", "constant_scalar_as_weight": "refuse",
        "two_outputs_hidden_first": "either",
        "bad_utf8_node_name": "either", "bad_utf8_graph_name": "either", "bad_utf8_value_name": "either",
    }
    descs = {
        "int_weight": "Gemm weight is an int64 initializer (ONNX Gemm needs A and B of one float type)",
        "int32_bias": "Gemm bias is int32 while A/B are float (type mismatch per ONNX)",
        "uint8_weight": "Gemm weight is uint8 (type mismatch per ONNX)",
        "fp16_weight": "Gemm weight float16 with float32 input (ONNX type mismatch)",
        "fp64_weight": "Gemm weight+bias float64 with float32 input (ONNX type mismatch)",
        "gemm_transA1": "Gemm transA=1 on [N,64] input: A' is [64,N], meaningless",
        "reshape_batch_merge": "Reshape to [-1,128] merges samples of the batch",
        "gather_idx1_channels": "x.view(x.size(1), -1): Gather picks the channel axis as the new batch",
        "reshape_const_4_neg1": "Reshape to the constant [4,-1] on [N,4,8,8] (ONNX: [4*N, 64]; mixes batch and channels)",
        "reshape_const_1_neg1": "Reshape to the constant [1,-1] (what a batch-1 export writes)",
        "conv_pads_and_autopad": "Conv with both auto_pad=SAME_UPPER and explicit pads (ONNX forbids)",
        "constant_scalar_as_weight": "Gemm weight is a scalar Constant value_float",
        "mul_int_const": "Mul of float activations by an int64 constant (type mismatch)",
        "huge_weight": "Gemm weights 3e38 (finite, overflow to inf after the first MAC)",
        "out_10x2": "output per-sample [10,2]: two class axes",
        "two_outputs_hidden_first": "two graph outputs, the first is the flattened input [N,64]",
    }
    for k, p in paths.items():
        if k == "missing":
            continue
        e = expect.get(k, "refuse")
        argv = ["compile", str(p), *ref]
        case(f"onnx.{k}", argv, e, descs.get(k, f"ONNX built with onnx.helper: {k.replace('_', ' ')}"),
             resp="frontend/onnx_import.py")
    case("onnx.maxpool_avg", ["compile", str(paths["maxpool"]), "--maxpool", "avg", *ref], "ok",
         "MaxPool with --maxpool avg", resp="passes/fold_pooling.py")
    case("onnx.missing_file", ["compile", str(INP / "onnx" / "nope.onnx"), *ref], "refuse", "nonexistent .onnx")
    case("onnx.valid_conv_loihi2", ["compile", str(paths["valid_conv"]), "--target", "loihi2", *ref], "either",
         "random-weight conv on loihi2")
    case("onnx.valid_mlp_truenorth", ["compile", str(paths["valid_mlp"]), "--target", "truenorth", *ref], "either",
         "random-weight mlp on truenorth")
    case("onnx.valid_mlp_no_dataset", ["compile", str(paths["valid_mlp"]), *FAST, "-o", "{OUT}"], "refuse",
         "ONNX without --dataset")
    case("onnx.unsup_many_listed", ["compile", str(paths["unsup_many"]), *ref], "refuse",
         "three unsupported ops: every one must be named", must=["Tanh", "Sin", "Erf"])
    case("onnx.nan_and_shape", ["compile", str(paths["nan_weight"]), *ref], "refuse",
         "NaN weight must be named", must=["W"])
    texp = {"t_mlp": "ok", "t_cnn": "ok", "t_view": "ok", "t_bn": "ok", "t_stride2": "ok", "t_dilation2": "either",
            "t_groups": "either", "t_static": "ok", "t_opset9": "ok", "t_cat": "either", "t_residual": "either",
            "t_mul2": "either", "t_global_avg": "either", "t_view_weight_T": "refuse"}
    for k, p in tpaths.items():
        case(f"onnx.torch.{k}", ["compile", str(p), *ref], texp.get(k, "refuse"),
             f"torch.onnx.export of a small nn module: {k}", resp="frontend/onnx_import.py")
    if "t_maxpool" in tpaths:
        case("onnx.torch.t_maxpool_avg", ["compile", str(tpaths["t_maxpool"]), "--maxpool", "avg", *ref], "ok",
             "exported MaxPool2d with --maxpool avg")
    if "t_cnn" in tpaths:
        case("onnx.torch.t_cnn_loihi2", ["compile", str(tpaths["t_cnn"]), "--target", "loihi2", *ref], "either",
             "exported CNN on loihi2")
        case("onnx.torch.t_cnn_dataset_1x9x9", ["compile", str(tpaths["t_cnn"]), "--dataset",
             str(INP / "npz" / "shape_1x9x9.npz"), *FAST, "-o", "{OUT}"], "refuse", "1x8x8 model, 1x9x9 data set")
        case("onnx.torch.t_cnn_input_shape_opt", ["compile", str(tpaths["t_cnn"]), "--input-shape", "1,9,9", *ref],
             "refuse", "--input-shape 1,9,9 for an ONNX model whose input is 1x8x8")


def cases_pt(d: Path):
    base = ["--dataset", "digits", *FAST, "-o", "{OUT}"]
    good = str(d / "good.pt")

    def pt(cid, ckpt, definition, expect="refuse", desc="", extra=(), must=(), dataset=True):
        if ckpt is None:
            ckpt = d / f"{cid}.pt"
        argv = ["compile", str(ckpt)] + (["--definition", definition] if definition is not None else [])
        argv += list(extra) + (base if dataset else [*FAST, "-o", "{OUT}"])
        case(f"pt.{cid}", argv, expect, desc, must=must, resp="frontend/__init__.py")

    gd = f"{d}/good.py:Net"
    pt("valid", good, gd, "ok", "good checkpoint + good.py:Net")
    pt("valid_pth_suffix", d / "good.pth", gd, "ok", ".pth suffix")
    pt("valid_no_dataset", good, gd, "refuse", "file definition without --dataset", dataset=False)
    pt("noshape_no_input_shape", good, f"{d}/noshape.py:Net", "refuse", "no INPUT_SHAPE and no --input-shape")
    pt("noshape_with_input_shape", good, f"{d}/noshape.py:Net", "ok", "no INPUT_SHAPE, --input-shape 1,8,8",
       extra=["--input-shape", "1,8,8"])
    pt("input_shape_mismatch", good, gd, "refuse", "--input-shape 1,9,9 (Linear needs 64)", extra=["--input-shape", "1,9,9"])
    pt("input_shape_flat64", good, gd, "refuse", "--input-shape 64 (data set is 1x8x8)", extra=["--input-shape", "64"])
    pt("input_shape_2x4x8", good, gd, "refuse", "--input-shape 2,4,8 (64 values, not the data's 1x8x8)",
       extra=["--input-shape", "2,4,8"])
    for f, desc in (("syntax_error", "definition has a syntax error"), ("raise_import", "raises at import"),
                    ("sys_exit", "calls sys.exit(3) at import"), ("import_missing", "imports a missing module"),
                    ("ctor_args", "constructor needs an argument"), ("ctor_raises", "constructor raises"),
                    ("forward_raises", "forward raises RuntimeError"), ("forward_tuple", "forward returns a tuple"),
                    ("forward_dict", "forward returns a dict"), ("forward_none", "forward returns None"),
                    ("forward_sigmoid", "forward uses torch.sigmoid (unsupported)"),
                    ("forward_recursion", "forward recurses forever"),
                    ("forward_input_unused", "forward ignores its input (constant output)"),
                    ("forward_5out", "model has 5 outputs, digits has 10 classes"),
                    ("shape_str", "INPUT_SHAPE = 'abc'"), ("shape_zero", "INPUT_SHAPE = (0,8,8)"),
                    ("shape_neg", "INPUT_SHAPE = (-1,8,8)"), ("shape_empty", "INPUT_SHAPE = ()"),
                    ("shape_float", "INPUT_SHAPE = (1.5,8,8)"), ("shape_bool", "INPUT_SHAPE = (True,8,8)"),
                    ("shape_wrong", "INPUT_SHAPE = (1,9,9)"), ("shape_huge", "INPUT_SHAPE = 1e15 elements")):
        pt(f"def_{f}", good, f"{d}/{f}.py:Net", "refuse", desc)
    pt("def_forward_dataflow", good, f"{d}/forward_dataflow.py:Net", "either", "forward branches on data (if x.sum()>0)")
    pt("def_view", good, f"{d}/view.py:Net", "ok", "forward uses x.view(x.size(0), -1)")
    pt("def_lstm", None, f"{d}/lstm.py:Net", "refuse", "definition with an nn.LSTM")
    pt("def_conv3ch", None, f"{d}/conv3ch.py:Net", "refuse", "Conv2d(3, ...) on a 1-channel INPUT_SHAPE")
    pt("def_maxpool", None, f"{d}/maxpool.py:Net", "refuse", "definition with nn.MaxPool2d (default --maxpool error)")
    pt("def_maxpool_avg", d / "def_maxpool.pt", f"{d}/maxpool.py:Net", "ok", "nn.MaxPool2d with --maxpool avg", extra=["--maxpool", "avg"])
    pt("def_inplace_relu", good, f"{d}/forward_inplace_relu.py:Net", "ok", "nn.ReLU(inplace=True)")
    pt("def_class_missing", good, f"{d}/good.py:Net2", "refuse", "class not in file")
    pt("def_not_module", good, f"{d}/not_module.py:Foo", "refuse", "class that is not an nn.Module")
    pt("def_func_int", good, f"{d}/func_int.py:Factory", "refuse", "factory returning 42")
    pt("def_func_ok", good, f"{d}/func_ok.py:Factory", "ok", "factory function returning Net()")
    pt("def_int_attr", good, f"{d}/int_attr.py:Number", "refuse", "name bound to an int")
    pt("def_not_py", good, f"{d}/good.txt:Net", "refuse", "definition file .txt")
    pt("def_missing_file", good, f"{d}/nope.py:Net", "refuse", "definition file missing")
    pt("def_no_class", good, f"{d}/good.py:", "refuse", "'good.py:' without class")
    pt("def_bad_class", good, f"{d}/good.py:1abc", "refuse", "class name not an identifier")
    pt("def_nocolon", good, "goodpy", "refuse", "--definition without colon, not a zoo name")
    pt("def_dir", good, f"{d}/dir.py:Net", "refuse", "definition path is a directory")
    pt("def_empty", good, "", "refuse", "--definition ''")
    pt("def_state_leak", good, f"{d}/state_leak.py:Net", "either", "definition sets numpy.seterr(all='raise') at import")
    for ck, desc in (("ckpt_list", "checkpoint is a list"), ("ckpt_tensor", "checkpoint is a tensor"),
                     ("ckpt_int", "checkpoint is an int"), ("ckpt_none", "checkpoint is None"),
                     ("ckpt_int_keys", "state dict with int keys"), ("ckpt_str_value", "a value is a string"),
                     ("ckpt_int_value", "a value is a python int"), ("ckpt_missing_key", "fc2.weight missing"),
                     ("ckpt_extra_key", "extra key fc3.weight"), ("ckpt_wrong_shape", "fc1.weight [32,63]"),
                     ("ckpt_nan", "NaN in fc2.weight"), ("ckpt_inf", "Inf in fc1.bias"),
                     ("ckpt_int_dtype", "fc1.weight int64"), ("ckpt_complex", "fc1.weight complex64"),
                     ("ckpt_bool", "fc1.weight bool"), ("ckpt_nested", "{'state_dict': ..., 'epoch': 3}"),
                     ("ckpt_module_prefix", "DataParallel 'module.' prefix"),
                     ("ckpt_full_module", "torch.save(model) (pickled module)"),
                     ("ckpt_empty_dict", "empty dict"), ("ckpt_sparse", "fc1.weight sparse COO"),
                     ("ckpt_zero_size", "fc1.weight [32,0]"), ("ckpt_numpy", "values are numpy arrays"),
                     ("ckpt_empty_file", "0-byte .pt"), ("ckpt_random", "random bytes .pt"),
                     ("ckpt_truncated", "truncated zip .pt"), ("ckpt_dir", ".pt is a directory")):
        pt(ck, d / f"{ck}.pt", gd, "refuse", desc)
    pt("ckpt_missing_and_extra", d / "ckpt_missing_and_extra.pt", gd, "refuse", "missing fc2.weight + extra bogus.weight",
       must=["fc2.weight", "bogus.weight"])
    pt("ckpt_shape_and_nan", d / "ckpt_shape_and_nan.pt", gd, "refuse", "wrong shape fc1.weight + NaN fc2.weight",
       must=["fc1.weight", "fc2.weight"])
    pt("ckpt_f64", d / "ckpt_f64.pt", gd, "either", "float64 weights")
    pt("ckpt_f16", d / "ckpt_f16.pt", gd, "either", "float16 weights")
    pt("ckpt_bf16", d / "ckpt_bf16.pt", gd, "either", "bfloat16 weights")
    pt("ckpt_huge_values", d / "ckpt_huge_values.pt", gd, "either", "fc1.weight all 1e30 (finite in float32)")
    pt("ckpt_noncontig", d / "ckpt_noncontig.pt", gd, "ok", "non-contiguous tensor")
    pt("ckpt_all_zero", d / "ckpt_all_zero.pt", gd, "either", "all-zero weights (dead network)")
    pt("ckpt_missing", d / "nope.pt", gd, "refuse", "checkpoint file missing")
    pt("ckpt_no_definition", good, None, "refuse", ".pt without --definition")
    pt("bn_good", d / "bn_good.pt", f"{d}/bn.py:Net", "ok", "BatchNorm definition, fresh stats")
    pt("bn_neg_var", d / "bn_neg_var.pt", f"{d}/bn.py:Net", "refuse", "BatchNorm running_var = -1 (sqrt of negative)")
    pt("bn_nbt_float", d / "bn_nbt_float.pt", f"{d}/bn.py:Net", "refuse", "num_batches_tracked float")
    pt("bn_zero_var", d / "bn_zero_var.pt", f"{d}/bn.py:Net", "either", "running_var 0 (eps keeps it finite)")
    mlp, cnn = d / "digits_mlp.pt", d / "digits_cnn.pt"
    pt("zoo_ok", mlp, "digits_mlp", "ok", "digits_mlp.pt + --definition digits_mlp", dataset=False)
    pt("zoo_mismatch_mlp_cnn", mlp, "digits_cnn", "refuse", "digits_mlp.pt with the digits_cnn definition", dataset=False)
    pt("zoo_mismatch_cnn_mlp", cnn, "digits_mlp", "refuse", "digits_cnn.pt with the digits_mlp definition", dataset=False)
    pt("zoo_mismatch_vgg", mlp, "vgg16", "refuse", "digits_mlp.pt with the vgg16 definition", dataset=False)
    pt("zoo_ckpt_with_file_def", mlp, gd, "refuse", "digits_mlp.pt with good.py:Net (different layers)")
    case("pt.zoo_name_with_definition", ["compile", "digits_mlp", "--definition", "digits_cnn", *FAST, "-o", "{OUT}"],
         "refuse", "zoo model name plus an unrelated --definition (is it ignored silently?)", resp="frontend/__init__.py")


def cases_npz(d: Path):
    def npz(cid, f, expect="refuse", desc="", must=(), model="digits_mlp", extra=()):
        case(f"npz.{cid}", ["compile", model, "--dataset", str(f), *FAST, *extra, "-o", "{OUT}"], expect,
             desc or f"digits_mlp with data set {Path(f).name}", must=must, resp="data.py")

    oks = {"valid": "ok", "valid_small": "ok", "valid_f64": "ok", "valid_int32_labels": "ok", "valid_labels_subset": "ok",
           "valid_extra_keys": "ok", "valid_uint8": "either", "valid_bool": "either", "valid_one_class": "either",
           "x_large_values": "either", "x_all_zero": "either", "y_bool": "either"}
    for f in sorted(d.glob("*.npz")):
        k = f.stem
        if k in ("vgg_input", "npy_renamed", "dir", "text", "empty", "truncated", "many_problems", "missing_two",
                 "empty_both"):
            continue
        npz(k, f, oks.get(k, "refuse"))
    npz("many_problems", d / "many_problems.npz", "refuse", "NaN in x_train and negative y_test: both listed",
        must=["x_train", "y_test"])
    npz("missing_two", d / "missing_two.npz", "refuse", "x_test and y_train missing: both listed", must=["x_test", "y_train"])
    npz("empty_both", d / "empty_both.npz", "refuse", "both splits empty: both listed", must=["train", "test"])
    npz("npy_renamed", d / "npy_renamed.npz", "refuse", ".npy file renamed .npz")
    npz("is_dir", d / "dir.npz", "refuse", ".npz that is a directory")
    npz("not_zip", d / "text.npz", "refuse", ".npz that is a text file")
    npz("empty_file", d / "empty.npz", "refuse", "0-byte .npz")
    npz("truncated", d / "truncated.npz", "refuse", "truncated .npz")
    npz("no_suffix", d / "valid_no_suffix.dat", "refuse", "data set file without .npz suffix")
    npz("missing_file", d / "nope.npz", "refuse", "nonexistent .npz")
    npz("unknown_name", "mnist", "refuse", "--dataset mnist (not bundled)")
    npz("empty_name", "", "refuse", "--dataset ''")
    npz("y100_onnx12", d / "y_100.npz", "refuse", "labels 0..99 for a 12-output ONNX model",
        model=str(INP / "onnx" / "out_12classes.onnx"))
    npz("valid_cnn", d / "valid.npz", "ok", "digits_cnn with a valid npz", model="digits_cnn")
    npz("shape_8x8_cnn", d / "shape_8x8.npz", "refuse", "digits_cnn with [N,8,8] data", model="digits_cnn")
    npz("vgg16_huge_steps", d / "vgg_input.npz", "refuse", "vgg16 at --steps 200000 must be refused by the memory check",
        model="vgg16", extra=["--steps", "200000"])
    case("npz.valid_loihi2", ["compile", "digits_mlp", "--dataset", str(d / "valid.npz"), "--target", "loihi2", *FAST,
                              "-o", "{OUT}"], "ok", "valid npz on loihi2", resp="data.py")
    case("npz.valid_small_eval_more", ["compile", "digits_mlp", "--dataset", str(d / "valid_small.npz"), "--eval-samples",
                                       "500", "--steps", "8", "-o", "{OUT}"], "either",
         "--eval-samples 500 on a 2-sample test split", resp="data.py")


def cases_nir(d: Path):
    def nr(cid, argv, expect="refuse", desc="", must=()):
        case(f"nir.{cid}", ["compile", *argv, "-o", "{OUT}"], expect, desc, must=must, resp="frontend/nir_import.py")

    for name in ("lif_norse", "two_lif_neurons", "braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract",
                 "braille_rockpool"):
        nr(f"valid_{name}", [str(NIR_DIR / f"{name}.nir"), "--steps", "20"], "ok", f"shared {name}.nir on ref")
    braille = str(NIR_DIR / "braille_noDelay_bias_zero.nir")
    nr("braille_loihi2", [braille, "--target", "loihi2", "--steps", "20"], "ok", "Braille SRNN on loihi2")
    nr("braille_truenorth", [braille, "--target", "truenorth", "--steps", "20"], "refuse",
       "recurrent leaky SRNN on truenorth", must=["recurrent synapse"])
    nr("cnn_sinabs_spinnaker", [str(NIR_DIR / "cnn_sinabs.nir"), "--target", "spinnaker1", "--steps", "8"], "ok",
       "sinabs CNN on spinnaker1")
    nr("subgraph_dangling", [str(NIR_DIR / "braille_noDelay_bias_zero_subgraph.nir")], "refuse",
       "the shared file whose edges name a missing node", must=["edge ('input', 'lif')"])
    for k in ("truncated", "random", "empty", "nan_weight", "negative_tau", "unknown_type", "dangling_edge",
              "wrong_weight_shape"):
        nr(f"file_{k}", [str(d / f"{k}.nir")], "refuse", f"NIR file: {k.replace('_', ' ')}")
    nr("file_missing", [str(d / "nope.nir")], "refuse", "nonexistent .nir")
    for flag, value in (("--dt", "0"), ("--dt", "2"), ("--dt", "nan"), ("--integration", "rk4"), ("--reset", "half")):
        nr(f"option_{flag[2:]}_{value}", [braille, flag, value], "refuse", f"NIR option {flag} {value}")
    nr("events_ok", [braille, "--target", "loihi2", "--dataset", str(d / "events_ok.npz")], "ok", "event data [N, T, 12]")
    nr("events_no_time", [braille, "--dataset", str(d / "events_no_time.npz")], "refuse",
       "samples without a time axis", must=["takes spike trains"])
    nr("events_counts_loihi2", [braille, "--target", "loihi2", "--dataset", str(d / "events_counts.npz")], "refuse",
       "event counts on a chip", must=["values other than 0 and 1"])
    nr("events_counts_ref", [braille, "--dataset", str(d / "events_counts.npz")], "ok", "event counts on ref")
    nr("events_labels", [braille, "--dataset", str(d / "events_labels.npz")], "refuse", "labels beyond 7 classes")
    nr("events_steps", [braille, "--dataset", str(d / "events_ok.npz"), "--steps", "5"], "refuse",
       "--steps against the data's T", must=["T = 20"])
    nr("conversion_option", [braille, "--percentile", "99"], "refuse", "a conversion option on a trained SNN")


def cases_netx(d: Path):
    def nx(cid, f, expect="refuse", desc="", extra=("--target", "loihi2"), must=()):
        case(f"netx.{cid}", ["compile", str(f), *extra, "-o", "{OUT}"], expect, desc or f"netx file {Path(f).name}",
             must=must, resp="frontend/netx.py")

    for name in ("valid_mnist_dense", "valid_tiny", "valid_oxford"):
        if (d / f"{name}.net").is_file():
            nx(name, d / f"{name}.net", "ok", f"shipped {name[6:]}.net unchanged")
    oks = {"tSample_missing": "ok", "tSample_1": "either", "neuron_missing": "either", "extra_unknown_group": "either",
           "weight_all_zero": "either", "refDelay_0": "refuse", "tiny_input_only": "either",
           "tiny_input_in_middle": "refuse", "tiny_conv_weight_4d": "either", "vThMant_zero": "either"}
    descs = {"weight_fraction": "dense weights 0.5 (netx weights are integers)",
             "refDelay_0": "refDelay 0 (Lava LIF has refractory 1)",
             "neuron_missing": "dense layer without a neuron group (netx default neuron)"}
    for f in sorted(d.glob("*.net")):
        k = f.stem
        if k.startswith("valid_") or k in ("truncated", "random", "empty", "hdf5_empty", "text", "many_problems", "dir"):
            continue
        nx(k, f, oks.get(k, "refuse"), descs.get(k, ""))
    nx("many_problems", d / "many_problems.net", "refuse", "NaN weights in layer 0 and bogus type in layer 2",
       must=["layer/0", "layer/2"])
    for k, desc in (("truncated", "truncated HDF5"), ("random", "random bytes"), ("empty", "0 bytes"),
                    ("hdf5_empty", "HDF5 without groups"), ("text", "text file .net"), ("dir", ".net is a directory")):
        nx(f"file_{k}", d / f"{k}.net", "refuse", desc)
    nx("file_missing", d / "nope.net", "refuse", "nonexistent .net")
    mn = d / "valid_mnist_dense.net"
    nx("target_ref", mn, "either", "netx file --target ref", extra=["--target", "ref"])
    nx("target_truenorth", mn, "either", "netx file --target truenorth", extra=["--target", "truenorth"])
    nx("target_loihi1", mn, "either", "netx file --target loihi1", extra=["--target", "loihi1"])
    nx("target_all", mn, "nonzero-once", "netx file --target all (non-Loihi targets should refuse)",
       extra=["--target", "all"])
    nx("with_dataset_digits", mn, "refuse", "netx + --dataset digits (784 inputs vs 1x8x8 samples)",
       extra=["--target", "loihi2", "--dataset", "digits"])
    nx("with_steps", mn, "ok", "netx + --steps 8: overrides the file's tSample (recorded in the report)",
       extra=["--target", "loihi2", "--steps", "8"])
    nx("with_coding_ttfs", mn, "refuse", "netx + --coding ttfs (meaningless for a deployed network)",
       extra=["--target", "loihi2", "--coding", "ttfs"])
    nx("with_input_shape", d / "valid_tiny.net", "either", "tiny.net + --input-shape 1,2,3",
       extra=["--target", "loihi2", "--input-shape", "1,2,3"])
    nx("with_definition", mn, "refuse", "netx + --definition digits_mlp", extra=["--target", "loihi2", "--definition",
                                                                                    "digits_mlp"])


def cases_options(onnx_paths: dict):
    def opt(cid, extra, expect="refuse", desc="", model="digits_mlp", drop=(), out=True, must=(), resp="cli.py",
            timeout=DEFAULT_TIMEOUT, prep=None, watch=(), ok_files=None):
        fast = []
        i = 0
        while i < len(FAST):
            if FAST[i] not in drop:
                fast += FAST[i:i + 2]
            i += 2
        argv = ["compile", model, *fast, *extra] + (["-o", "{OUT}"] if out else [])
        case(f"opt.{cid}", argv, expect, desc or " ".join(extra), must=must, resp=resp, timeout=timeout, prep=prep,
             watch=watch, ok_files=ok_files)

    for v in ("0", "-1", "abc", "1.5", "", "1e3", "1000001", "99999999999999999999", "0x10", "nan"):
        opt(f"steps_{v or 'empty'}", ["--steps", v], drop=["--steps"])
    opt("steps_1", ["--steps", "1"], "either", drop=["--steps"])
    opt("steps_space", ["--steps", " 8"], "either", drop=["--steps"])
    for v in ("0", "101", "nan", "-5", "inf", "abc", "", "-0"):
        opt(f"percentile_{v or 'empty'}", ["--percentile", v])
    opt("percentile_100", ["--percentile", "100"], "ok")
    opt("percentile_tiny", ["--percentile", "1e-9"], "either")
    for v in ("nan", "inf", "-inf", "2", "-1.5", "abc"):
        opt(f"v_init_{v}", ["--v-init", v])
    opt("v_init_1", ["--v-init", "1"], "ok")
    opt("v_init_-1", ["--v-init", "-1"], "either")
    for v in ("0", "-3", "abc"):
        opt(f"eval_samples_{v}", ["--eval-samples", v], drop=["--eval-samples"])
    opt("eval_samples_100000", ["--eval-samples", "100000"], "either", drop=["--eval-samples"], timeout=180)
    for v in ("-1", "0", "abc"):
        opt(f"calibration_samples_{v}", ["--calibration-samples", v], drop=["--calibration-samples"])
    opt("calibration_samples_1", ["--calibration-samples", "1"], "either", drop=["--calibration-samples"])
    opt("finetune_epochs_-1", ["--coding", "ttfs", "--finetune-epochs", "-1"])
    opt("finetune_epochs_abc", ["--coding", "ttfs", "--finetune-epochs", "abc"])
    opt("finetune_epochs_rate", ["--finetune-epochs", "3"], "refuse", desc="--finetune-epochs with rate coding (ignored?)")
    for v, e in (("0,8,8", "refuse"), ("-1,8,8", "refuse"), ("a,b", "refuse"), ("", "refuse"), ("1,8,8,0", "refuse"),
                 ("1,9,9", "refuse"), ("100000,100000,100", "refuse"), ("1x8x8", "ok"), ("1,,8,8", "either"),
                 ("64", "refuse"), ("1,8", "refuse")):
        opt(f"input_shape_{v or 'empty'}", ["--input-shape", v], e)
    for v in ("bogus", "", "LOIHI2", "ref ", "loihi"):
        opt(f"target_{v.strip() or 'empty'}{'_space' if v.endswith(' ') else ''}", ["--target", v])
    for o in ("--coding", "--encoding", "--maxpool", "--reset"):
        opt(f"{o[2:]}_bogus", [o, "bogus"])
    opt("encoding_poisson", ["--encoding", "poisson"], "ok")
    opt("encoding_bernoulli", ["--encoding", "bernoulli"], "ok")
    opt("reset_zero", ["--reset", "zero"], "ok")
    opt("unknown_option", ["--bogus"])
    opt("extra_positional", ["extra_model"])
    opt("nonexistent_model", [], model="nosuchmodel")
    opt("nonexistent_onnx", [], model="nosuch.onnx")
    opt("txt_model", [], model=str(INP / "pt" / "good.txt"))
    opt("vgg16_no_dataset", [], model="vgg16")
    opt("resnet20_digits", ["--dataset", "digits"], model="resnet20")
    opt("dataset_mnist", ["--dataset", "mnist"])
    # ttfs / codings
    opt("ttfs_loihi2", ["--coding", "ttfs", "--finetune-epochs", "0", "--target", "loihi2"], "ok")
    opt("sc_ttfs_ref", ["--coding", "sc-ttfs", "--finetune-epochs", "0"], "ok")
    opt("ttfs_truenorth", ["--coding", "ttfs", "--finetune-epochs", "0", "--target", "truenorth"], "refuse")
    opt("ttfs_spinnaker1", ["--coding", "ttfs", "--finetune-epochs", "0", "--target", "spinnaker1"], "refuse")
    # -o
    def mkfile(cd):
        (cd / "afile").write_text("x")

    def mkdir_nonbuild(cd):
        (cd / "out").mkdir()
        (cd / "out" / "thesis.tex").write_text("my thesis")

    def mkdir_empty(cd):
        (cd / "out").mkdir()

    def mk_notes(cd):
        (cd / "notes.txt").write_text("mine")

    def mk_prev_build(cd):
        copy_base("ref", cd / "out")
        (cd / "out" / "my_notes.txt").write_text("keep me")

    def mk_stale(cd):
        (cd / ".out.partial-99999").mkdir()
        (cd / ".out.partial-99999" / "junk").write_text("x")
        (cd / ".out.lock").write_text("")

    def mk_old(cd):
        copy_base("ref", cd / ".out.old-99998")

    def mk_symlink(cd):
        copy_base("ref", cd / "real")
        os.symlink(cd / "real", cd / "out")

    def mk_dangling(cd):
        os.symlink(cd / "nowhere", cd / "out")

    def mk_build_then_bad(cd):
        copy_base("ref", cd / "out")

    opt("o_under_file", [], out=False, prep=mkfile, desc="-o CASE/afile/build (parent is a regular file)")
    CASES[-1]["argv"] += ["-o", "{CASE}/afile/build"]
    opt("o_proc", ["-o", "/proc/neurodeploy_rt"], out=False, watch=["/proc"], desc="-o /proc/x")
    opt("o_sys", ["-o", "/sys/kernel/neurodeploy_rt"], out=False, desc="-o /sys/kernel/x")
    opt("o_dev_null", ["-o", "/dev/null"], out=False, desc="-o /dev/null (existing character device)")
    opt("o_existing_file", ["-o", "{CASE}/afile"], out=False, prep=mkfile, desc="-o an existing regular file")
    opt("o_nonbuild_folder", [], prep=mkdir_nonbuild, desc="-o an existing folder with the user's thesis in it")
    opt("o_empty_folder", [], "ok", prep=mkdir_empty, desc="-o an existing empty folder")
    opt("o_name_300", ["-o", "{CASE}/" + "b" * 300], out=False, desc="-o with a 300-char name")
    opt("o_name_250", ["-o", "{CASE}/" + "b" * 250], out=False, desc="-o with a 250-char name (no room for .partial)")
    opt("o_name_200", ["-o", "{CASE}/" + "b" * 200], "ok", out=False, desc="-o with a 200-char name",
        ok_files=["b" * 200 + "/report.json"])
    opt("o_dir_300", ["-o", "{CASE}/" + "d" * 300 + "/out"], out=False, desc="-o under a 300-char folder name")
    opt("o_empty_string_nonempty_cwd", ["-o", ""], out=False, prep=mk_notes, desc="-o '' in a folder with a file")
    opt("o_dot_nonempty_cwd", ["-o", "."], out=False, prep=mk_notes, desc="-o . in a folder with a file")
    opt("o_existing_build", [], "ok", prep=mk_prev_build, desc="-o an earlier build with a user file (kept)",
        ok_files=["out/report.json", "out/my_notes.txt"])
    opt("o_stale_partial_lock", [], "ok", prep=mk_stale, desc="stale .out.partial-99999 and .out.lock beside -o")
    opt("o_stale_old", [], "ok", prep=mk_old, desc="stale .out.old-99998 (killed replace) and no out")
    opt("o_symlink_to_build", [], "either", prep=mk_symlink, desc="-o a symlink to a build folder")
    opt("o_dangling_symlink", [], "either", prep=mk_dangling, desc="-o a dangling symlink")
    opt("o_existing_build_bad_model", [], "refuse", model=str(onnx_paths["nan_weight"]), prep=mk_build_then_bad,
        desc="bad model compiled over an existing build: the build must stay untouched")
    CASES[-1]["argv"][2:2] = ["--dataset", "digits"]
    # --target all
    opt("all_ttfs", ["--target", "all", "--coding", "ttfs", "--finetune-epochs", "0"], "nonzero-once",
        "--target all --coding ttfs: some targets refuse; exit non-zero, each error once", timeout=180,
        resp="pipeline.py")
    opt("all_valid", ["--target", "all"], "ok", "--target all on digits_mlp", timeout=180, resp="pipeline.py")
    opt("all_bad_model", ["--target", "all", "--dataset", "digits"], "refuse", "--target all with a NaN-weight ONNX",
        model=str(onnx_paths["nan_weight"]), resp="pipeline.py", timeout=180)
    opt("all_bad_model_over_build", ["--target", "all", "--dataset", "digits"], "refuse",
        "--target all with a NaN-weight ONNX over an existing good build: the build must survive",
        model=str(onnx_paths["nan_weight"]), resp="pipeline.py", timeout=180, prep=mk_build_then_bad)
    opt("all_o_under_file", ["--target", "all", "-o", "{CASE}/afile/x"], out=False, prep=mkfile,
        desc="--target all -o under a regular file", resp="pipeline.py")
    # debug / version / help
    case("opt.debug_before", ["--debug", "compile", "nosuchmodel", "-o", "{OUT}"], "debug-raise",
         "--debug before the sub-command on a bad model", resp="cli.py")
    case("opt.debug_after", ["compile", "nosuchmodel", "--debug", "-o", "{OUT}"], "debug-raise",
         "--debug after the sub-command on a bad model", resp="cli.py")
    case("opt.debug_valid", ["--debug", "compile", "digits_mlp", *FAST, "-o", "{OUT}"], "ok", "--debug on valid input")
    case("opt.debug_parser_error", ["compile", "digits_mlp", "--steps", "0", "--debug"], "refuse",
         "--debug with an option error")
    case("opt.version", ["--version"], "ok", "--version", ok_files=[])
    case("opt.help", ["--help"], "ok", "--help", ok_files=[])
    case("opt.compile_help", ["compile", "--help"], "ok", "compile --help", ok_files=[])
    case("opt.no_args", [], "refuse", "no sub-command")
    case("opt.unknown_subcommand", ["deploy"], "refuse", "unknown sub-command")
    case("opt.targets", ["targets"], "ok", "targets", ok_files=[])
    case("opt.targets_extra", ["targets", "extra"], "refuse", "targets with an extra argument")
    # codings
    cb = ["codings", "digits_mlp", "--target", "ref", "--eval-samples", "20", "-o", "{OUT}"]
    for cid, extra in (("rate_steps_0", ["--rate-steps", "0"]), ("rate_steps_a", ["--rate-steps", "a,b"]),
                       ("rate_steps_empty", ["--rate-steps", ""]), ("rate_steps_neg", ["--rate-steps", "8,-4"]),
                       ("tolerance_-1", ["--tolerance", "-1"]), ("tolerance_101", ["--tolerance", "101"]),
                       ("tolerance_nan", ["--tolerance", "nan"]), ("codings_bogus", ["--codings", "bogus"]),
                       ("target_bogus", ["--target", "bogus"]), ("eval_0", ["--eval-samples", "0"]),
                       ("finetune_-1", ["--finetune-epochs", "-1"])):
        case(f"opt.codings_{cid}", cb + extra, "refuse", f"codings {' '.join(extra)}", resp="cli.py")
    case("opt.codings_bad_model", ["codings", "nosuchmodel", "-o", "{OUT}"], "refuse", "codings on a missing model",
         resp="report/codings.py")
    case("opt.codings_nan_model", ["codings", str(onnx_paths["nan_weight"]), "--dataset", "digits", "--codings", "rate",
                                   "--rate-steps", "8", "--target", "ref", "--eval-samples", "20", "-o", "{OUT}"],
         "refuse", "codings on a NaN-weight ONNX", resp="report/codings.py")
    case("opt.codings_o_under_file", ["codings", "digits_mlp", "-o", "{CASE}/afile/x"], "refuse",
         "codings -o under a file", prep=mkfile, resp="report/codings.py")
    case("opt.codings_valid", cb[:-2] + ["--codings", "rate", "--rate-steps", "8", "-o", "{OUT}"], "ok",
         "codings rate T=8 on ref", ok_files=["out/comparison.json"], resp="report/codings.py")
    case("opt.codings_steps_descending", cb[:-2] + ["--codings", "rate", "--rate-steps", "16,8", "-o", "{OUT}"],
         "ok", "--rate-steps 16,8: windows are tried in ascending order whatever the order given",
         ok_files=["out/comparison.json"], resp="cli.py")


def cases_builds(onnx_paths: dict, npz_dir: Path):
    RUN = ["run", "{CASE}/b", "--backend", "golden", "--samples", "2"]
    REPORT = ["report", "{CASE}/b"]

    def prep_from(base, fn=None):
        def p(cd):
            b = copy_base(base, cd / "b")
            if fn:
                fn(b)
        return p

    def both(cid, base, fn, expect="refuse", desc="", report_expect=None, run=True, report=True):
        if run:
            case(f"bld.run.{cid}", RUN, expect, f"run on {base} build: {desc}", prep=prep_from(base, fn), needs=[base],
                 resp="run.py / buildfolder.py", ok_files=[])
        if report:
            case(f"bld.report.{cid}", REPORT, report_expect or expect, f"report on {base} build: {desc}",
                 prep=prep_from(base, fn), needs=[base], resp="report/schema.py / buildfolder.py", ok_files=[])

    def w(name, data):
        def f(b):
            p = b / name
            if isinstance(data, bytes):
                p.write_bytes(data)
            else:
                p.write_text(data)
        return f

    def rm(name):
        def f(b):
            p = b / name
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        return f

    def truncate(name):
        def f(b):
            raw = (b / name).read_bytes()
            (b / name).write_bytes(raw[: len(raw) // 2])
        return f

    def replace_with(name, src):
        def f(b):
            shutil.copy(src(b), b / name)
        return f

    def jedit(fn):
        """Edit report.json without fixing the hashes (a plain hand edit)."""
        def f(b):
            rep = json.loads((b / "report.json").read_text())
            fn(rep)
            (b / "report.json").write_text(json.dumps(rep, indent=2))
        return f

    def forged(fn=None, pre=None):
        def f(b):
            if pre:
                pre(b)
            forge(b, fn)
        return f

    def setkey(key, value):
        def f(rep):
            cur = rep
            parts = key.split(".")
            for p in parts[:-1]:
                cur = cur[p]
            if value is KeyError:
                cur.pop(parts[-1], None)
            else:
                cur[parts[-1]] = value
        return f

    both("valid", "loihi2", None, "ok", "unchanged build")
    both("valid_loihi1", "loihi1", None, "ok", "unchanged loihi1 build")
    both("valid_netx", "netx", None, "ok", "unchanged netx build")
    both("valid_user_file", "loihi2", w("notes.txt", "mine"), "ok", "user file added")
    both("timings_missing", "loihi2", rm("timings.json"), "either", "timings.json deleted")
    both("report_missing", "loihi2", rm("report.json"), desc="report.json deleted")
    both("report_empty", "loihi2", w("report.json", ""), desc="report.json empty")
    both("report_nonjson", "loihi2", w("report.json", "{ this is not json"), desc="report.json not JSON")
    both("report_list", "loihi2", w("report.json", "[1, 2, 3]"), desc="report.json is a JSON list")
    both("report_null", "loihi2", w("report.json", "null"), desc="report.json is null")
    both("report_number", "loihi2", w("report.json", "42"), desc="report.json is 42")
    both("report_binary", "loihi2", w("report.json", b"\xff\xfe\x00\x81garbage"), desc="report.json binary")
    both("report_is_dir", "loihi2", lambda b: (rm("report.json")(b), (b / "report.json").mkdir()),
         desc="report.json is a directory")
    both("report_truncated", "loihi2", truncate("report.json"), desc="report.json truncated")
    both("report_bom", "loihi2", lambda b: (b / "report.json").write_bytes(b"\xef\xbb\xbf" + (b / "report.json").read_bytes()),
         desc="report.json with a UTF-8 BOM")
    both("report_nan_literal", "loihi2", lambda b: (b / "report.json").write_text(
        (b / "report.json").read_text().replace('"test_samples": 20', '"test_samples": NaN', 1)),
        desc="NaN literal in report.json")
    both("report_edited_accuracy", "loihi2", jedit(setkey("deployed.accuracy", 0.123)),
         desc="deployed.accuracy hand-edited (hash not updated)")
    both("report_edited_target", "loihi2", jedit(setkey("target", "loihi1")), desc="target hand-edited (hash stale)")
    both("report_no_selfhash", "loihi2", jedit(setkey("report_sha256", KeyError)), desc="report_sha256 removed")
    # forged (hashes recomputed): the content checks must still hold
    both("forged_target_truenorth", "loihi2", forged(setkey("target", "truenorth")),
         desc="target -> truenorth, hashes fixed up", report_expect="either")
    both("forged_target_bogus", "loihi2", forged(setkey("target", "bogus")), desc="target -> 'bogus', hashes fixed up")
    both("forged_target_loihi1", "loihi2", forged(setkey("target", "loihi1")), "either",
         desc="target -> loihi1 on a loihi2 build, hashes fixed up")
    both("forged_target_int", "loihi2", forged(setkey("target", 5)), desc="target -> 5 (int), hashes fixed up")
    both("forged_files_removed", "loihi2", forged(setkey("files", KeyError)), desc="'files' removed, self hash fixed")
    both("forged_files_list", "loihi2", forged(setkey("files", ["deployed.onnx"])), desc="'files' is a list")
    both("forged_files_empty", "loihi2", forged(setkey("files", {})), desc="'files' is {} (nothing listed)")
    both("forged_test_samples_str", "loihi2", forged(setkey("test_samples", "abc")), desc="test_samples 'abc'")
    both("forged_estimate_empty", "loihi2", forged(setkey("estimate", {})), "either", desc="estimate {}")
    both("forged_layers_str", "loihi2", forged(setkey("layers", "x")), desc="layers 'x'")
    both("forged_layers_empty", "loihi2", forged(setkey("layers", [])), "either", desc="layers []")
    both("forged_deployed_empty", "loihi2", forged(setkey("deployed", {})), desc="deployed {}")
    both("forged_model_int", "loihi2", forged(setkey("model", 123)), desc="model 123")
    both("forged_neurons_neg", "loihi2", forged(lambda r: r["layers"][0].__setitem__("neurons", -5)), "either",
         desc="layers[0].neurons -5")
    both("forged_accuracy_500", "loihi2", forged(setkey("deployed.accuracy", 5.0)), "either",
         desc="deployed.accuracy 5.0 (500 %)")
    both("forged_accuracy_nan_str", "loihi2", forged(setkey("deployed.accuracy", "NaN")), desc="deployed.accuracy 'NaN'")
    both("forged_dataset_missing", "loihi2", forged(setkey("dataset_source", str(npz_dir / "nope.npz"))),
         desc="dataset_source -> nonexistent .npz", report_expect="either")
    both("forged_dataset_int", "loihi2", forged(setkey("dataset_source", 5)), desc="dataset_source 5",
         report_expect="either")
    both("forged_dataset_wrongshape", "loihi2", forged(setkey("dataset_source", str(npz_dir / "shape_1x9x9.npz"))),
         desc="dataset_source -> 1x9x9 data set", report_expect="either")
    both("forged_dataset_labels100", "loihi2", forged(setkey("dataset_source", str(npz_dir / "y_100.npz"))),
         desc="dataset_source -> data set with labels 0..99 (10-class build)", report_expect="either")
    both("forged_dataset_nan", "loihi2", forged(setkey("dataset_source", str(npz_dir / "x_nan.npz"))),
         desc="dataset_source -> data set with NaN", report_expect="either")
    # files
    both("deployed_missing", "loihi2", rm("deployed.onnx"), desc="deployed.onnx deleted")
    both("deployed_empty", "loihi2", w("deployed.onnx", b""), desc="deployed.onnx empty")
    both("deployed_truncated", "loihi2", truncate("deployed.onnx"), desc="deployed.onnx truncated")
    both("deployed_garbage", "loihi2", w("deployed.onnx", b"\x00garbage" * 100), desc="deployed.onnx garbage")
    both("deployed_is_dir", "loihi2", lambda b: (rm("deployed.onnx")(b), (b / "deployed.onnx").mkdir()),
         desc="deployed.onnx is a directory")
    both("deployed_from_snn", "loihi2", replace_with("deployed.onnx", lambda b: b / "snn.onnx"),
         desc="deployed.onnx replaced by snn.onnx")
    both("deployed_from_ann", "loihi2", replace_with("deployed.onnx", lambda b: b / "ann.onnx"),
         desc="deployed.onnx replaced by ann.onnx")
    both("deployed_from_truenorth", "loihi2", replace_with("deployed.onnx", lambda b: BASES / "truenorth" / "deployed.onnx"),
         desc="deployed.onnx from a truenorth build")
    both("snn_missing", "loihi2", rm("snn.onnx"), desc="snn.onnx deleted")
    both("report_md_missing", "loihi2", rm("report.md"), desc="report.md deleted", report_expect="either")
    both("network_net_truncated", "loihi2", truncate("network.net"), desc="network.net truncated")
    both("extra_subdir", "loihi2", lambda b: (b / "sub").mkdir(), "either", desc="empty user subfolder added")
    # forged file swaps: hashes fixed, so only the content checks stand between the file and the simulator
    both("forged_deployed_from_snn", "loihi2", forged(pre=replace_with("deployed.onnx", lambda b: b / "snn.onnx")),
         desc="deployed.onnx <- snn.onnx, hashes fixed up", report_expect="either")
    both("forged_deployed_from_ann", "loihi2", forged(pre=replace_with("deployed.onnx", lambda b: b / "ann.onnx")),
         desc="deployed.onnx <- ann.onnx, hashes fixed up", report_expect="either")
    both("forged_deployed_from_truenorth", "loihi2",
         forged(pre=replace_with("deployed.onnx", lambda b: BASES / "truenorth" / "deployed.onnx")),
         desc="deployed.onnx <- truenorth build's, hashes fixed up", report_expect="either")
    both("forged_deployed_from_loihi1", "loihi2",
         forged(pre=replace_with("deployed.onnx", lambda b: BASES / "loihi1" / "deployed.onnx")), "either",
         desc="deployed.onnx <- loihi1 build's, hashes fixed up")
    both("forged_deployed_truncated", "loihi2", forged(pre=truncate("deployed.onnx")),
         desc="deployed.onnx truncated, hashes fixed up", report_expect="either")

    def meta_edit(fn):
        def pre(b):
            def g(m):
                for p in m.metadata_props:
                    if p.key == "neurodeploy.meta":
                        meta = json.loads(p.value)
                        fn(meta)
                        p.value = json.dumps(meta)
            edit_onnx(b / "deployed.onnx", g)
        return forged(pre=pre)

    def attr_edit(op, attr, value):
        def pre(b):
            from onnx import helper as oh

            def g(m):
                hit = False
                for n in m.graph.node:
                    if n.op_type == op:
                        for a in list(n.attribute):
                            if a.name == attr:
                                n.attribute.remove(a)
                        n.attribute.append(oh.make_attribute(attr, value))
                        hit = True
                if not hit:
                    raise RuntimeError(f"no {op} in deployed.onnx")
            edit_onnx(b / "deployed.onnx", g)
        return forged(pre=pre)

    def init_nan(b):
        import numpy as np
        from onnx import numpy_helper as nh

        def g(m):
            t = max(m.graph.initializer, key=lambda t: int(np.prod(t.dims)) if t.dims else 0)
            a = nh.to_array(t).astype(np.float32).copy()
            a.reshape(-1)[0] = np.nan
            t.CopyFrom(nh.from_array(a, t.name))
        edit_onnx(b / "deployed.onnx", g)

    both("forged_meta_steps_removed", "loihi2", meta_edit(lambda m: m.pop("num_steps", None)),
         desc="deployed.onnx metadata without num_steps, hashes fixed up", report_expect="either")
    both("forged_meta_steps_0", "loihi2", meta_edit(lambda m: m.__setitem__("num_steps", 0)),
         desc="deployed.onnx num_steps 0, hashes fixed up", report_expect="either")
    both("forged_meta_steps_huge", "loihi2", meta_edit(lambda m: m.__setitem__("num_steps", 10 ** 9)),
         desc="deployed.onnx num_steps 1e9, hashes fixed up", report_expect="either")
    both("forged_lif_vth_neg", "loihi2", attr_edit("LoihiLIF", "vth", -5),
         desc="LoihiLIF vth -5, hashes fixed up", report_expect="either")
    both("forged_lif_du_huge", "loihi2", attr_edit("LoihiLIF", "du", 99999),
         desc="LoihiLIF du 99999, hashes fixed up", report_expect="either")
    both("forged_weights_nan", "loihi2", forged(pre=init_nan), desc="a deployed weight NaN, hashes fixed up",
         report_expect="either")
    # other kinds of folders
    both("ref_build", "ref", None, "refuse", "run on a ref build", report_expect="ok")
    both("truenorth_build", "truenorth", None, "refuse", "run on a truenorth build", report_expect="ok")
    both("all_folder", "all", None, "refuse", "run on a --target all folder", report_expect="ok")
    case("bld.run.all_subfolder_loihi2", ["run", "{CASE}/b/loihi2", "--backend", "golden", "--samples", "2"], "ok",
         "run on the loihi2 sub-folder of a --target all folder", prep=prep_from("all"), needs=["all"], ok_files=[])
    case("bld.report.all_damaged_row", REPORT, "refuse", "--target all folder with a sub-build's report deleted",
         prep=prep_from("all", rm("loihi2/report.json")), needs=["all"], ok_files=[])
    case("bld.report.codings", REPORT, "ok", "report on a codings folder", prep=prep_from("codings"),
         needs=["codings"], ok_files=[])
    case("bld.report.codings_damaged", REPORT, "refuse", "codings folder with comparison.json emptied",
         prep=prep_from("codings", w("comparison.json", "")), needs=["codings"], ok_files=[])
    case("bld.run.codings", RUN, "refuse", "run on a codings folder", prep=prep_from("codings"), needs=["codings"],
         ok_files=[])
    # missing / odd paths
    for cmd in ("run", "report"):
        base_args = RUN if cmd == "run" else REPORT
        case(f"bld.{cmd}.nonexistent", [a.replace("{CASE}/b", "{CASE}/nope") for a in base_args], "refuse",
             f"{cmd} on a missing folder", ok_files=[])
        case(f"bld.{cmd}.is_file", base_args, "refuse", f"{cmd} on a regular file",
             prep=lambda cd: (cd / "b").write_text("x"), ok_files=[])
        case(f"bld.{cmd}.empty_dir", base_args, "refuse", f"{cmd} on an empty folder",
             prep=lambda cd: (cd / "b").mkdir(), ok_files=[])
    # run options
    ro = ["run", "{CASE}/b", "--backend", "golden"]
    for cid, extra, e in (("samples_0", ["--samples", "0"], "refuse"), ("samples_-1", ["--samples", "-1"], "refuse"),
                          ("samples_abc", ["--samples", "abc"], "refuse"),
                          ("samples_100000", ["--samples", "100000"], "either"),
                          ("backend_bogus", ["--samples", "2", "--backend", "bogus"], "refuse"),
                          ("o_folder", ["--samples", "2", "-o", "{CASE}"], "refuse"),
                          ("o_under_file", ["--samples", "2", "-o", "{CASE}/b/report.md/x.json"], "refuse"),
                          ("o_proc", ["--samples", "2", "-o", "/proc/rt.json"], "refuse"),
                          ("o_custom", ["--samples", "2", "-o", "{CASE}/res.json"], "ok"),
                          ("o_name_300", ["--samples", "2", "-o", "{CASE}/" + "r" * 300 + ".json"], "refuse"),
                          ("o_name_250", ["--samples", "2", "-o", "{CASE}/" + "r" * 245 + ".json"], "refuse"),
                          ("o_dir_300", ["--samples", "2", "-o", "{CASE}/" + "q" * 300 + "/r.json"], "refuse")):
        case(f"bld.run.opt_{cid}", ro + extra, e, f"run {' '.join(extra)}", prep=prep_from("loihi2"), needs=["loihi2"],
             ok_files=[], timeout=180, resp="cli.py / run.py")
    # inspect
    INS = ["inspect"]
    case("bld.inspect.valid_onnx", INS + [str(onnx_paths["valid_conv"])], "ok", "inspect a valid .onnx", ok_files=[])
    case("bld.inspect.valid_net", INS + [str(INP / "netx" / "valid_tiny.net")], "ok", "inspect tiny.net", ok_files=[])
    case("bld.inspect.build", INS + ["{CASE}/b"], "ok", "inspect a build folder", prep=prep_from("loihi2"),
         needs=["loihi2"], ok_files=[])
    for cid, arg, e, prep, desc in (
            ("nonexistent", "{CASE}/nope.onnx", "refuse", None, "missing file"),
            ("txt", str(INP / "pt" / "good.txt"), "refuse", None, ".txt file"),
            ("pt", str(INP / "pt" / "good.pt"), "refuse", None, ".pt file"),
            ("npz", str(INP / "npz" / "valid.npz"), "refuse", None, ".npz file"),
            ("nonbuild_dir", "{CASE}", "refuse", lambda cd: (cd / "x.txt").write_text("x"), "folder that is no build"),
            ("truncated_onnx", str(onnx_paths["truncated"]), "refuse", None, "truncated .onnx"),
            ("garbage_onnx", str(onnx_paths["random_bytes"]), "refuse", None, "random-bytes .onnx"),
            ("unsupported_onnx", str(onnx_paths["unsup_many"]), "refuse", None, "ONNX with unsupported ops"),
            ("nan_onnx", str(onnx_paths["nan_weight"]), "either", None, "ONNX with a NaN weight"),
            ("cycle_onnx", str(onnx_paths["cycle"]), "refuse", None, "ONNX with a cycle"),
            ("gather_oor_onnx", str(onnx_paths["gather_oor"]), "refuse", None, "ONNX with Gather out of range"),
            ("broken_net", str(INP / "netx" / "weight_shape.net"), "refuse", None, "netx with mismatched weight"),
            ("build_snn_missing", "{CASE}/b", "refuse", prep_from("loihi2", rm("snn.onnx")), "build without snn.onnx"),
            ("build_snn_truncated", "{CASE}/b", "refuse", prep_from("loihi2", truncate("snn.onnx")),
             "build with truncated snn.onnx"),
            ("build_snn_garbage", "{CASE}/b", "refuse", prep_from("loihi2", w("snn.onnx", b"junk")),
             "build with garbage snn.onnx"),
            ("build_snn_swapped", "{CASE}/b", "either",
             prep_from("loihi2", replace_with("snn.onnx", lambda b: BASES / "truenorth" / "snn.onnx")),
             "build whose snn.onnx comes from another build (hash mismatch)"),
            ("build_report_missing", "{CASE}/b", "either", prep_from("loihi2", rm("report.json")),
             "build folder without report.json")):
        case(f"bld.inspect.{cid}", INS + [arg], e, f"inspect {desc}", prep=prep, ok_files=[],
             needs=["loihi2"] if "b" in arg.split("/")[-1:] else [], resp="cli.py (inspect) / onnx_import.py")


# ============================================================================================ worker

HIDDEN_RE = re.compile(r"^\..+\.(partial|old)-\d+$|^\..+\.lock$|^\.neurodeploy-probe-")


class CaseTimeout(BaseException):
    pass


def snapshot(root: Path) -> dict:
    snap = {}
    if not root.exists():
        return snap
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = str(p.relative_to(root))
            try:
                st = p.lstat()
            except OSError:
                continue
            kind = "l" if os.path.islink(p) else ("d" if p.is_dir() else "f")
            snap[rel] = (kind, st.st_size if kind == "f" else 0, st.st_mtime_ns if kind == "f" else 0)
    return snap


def hidden_in(d: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(d) if HIDDEN_RE.match(n))
    except OSError:
        return []


def worker(chunk_file: str, result_file: str):
    import signal

    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    t_import = time.perf_counter()
    from neurodeploy.cli import main  # noqa: import once per worker
    t_import = time.perf_counter() - t_import
    cases = json.loads(Path(chunk_file).read_text())
    res = open(result_file, "a", buffering=1)
    res.write(json.dumps({"worker_import_s": round(t_import, 2)}) + "\n")

    def on_alarm(signum, frame):
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    for c in cases:
        res.write(json.dumps({"start": c["id"]}) + "\n")
        cwd = c["cwd"]
        os.chdir(cwd)
        before = snapshot(Path(cwd))
        wbefore = {d: hidden_in(d) for d in c["watch"]}
        sys.stdout.flush(), sys.stderr.flush()
        out_f = open(Path(cwd).parent / f".{c['id']}.stdout", "w+b")
        err_f = open(Path(cwd).parent / f".{c['id']}.stderr", "w+b")
        saved1, saved2 = os.dup(1), os.dup(2)
        os.dup2(out_f.fileno(), 1)
        os.dup2(err_f.fileno(), 2)
        rc, exc, timed_out = None, None, False
        t0 = time.perf_counter()
        signal.alarm(int(c["timeout"]))
        try:
            rc = main(c["argv"])
        except CaseTimeout:
            timed_out = True
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            exc = {"type": "SystemExit", "mro": ["SystemExit"], "msg": str(e.code), "tb": traceback.format_exc()}
        except BaseException as e:
            exc = {"type": type(e).__name__, "mro": [k.__name__ for k in type(e).__mro__], "msg": str(e)[:2000],
                   "tb": traceback.format_exc()}
        finally:
            signal.alarm(0)
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                pass
            os.dup2(saved1, 1)
            os.dup2(saved2, 2)
            os.close(saved1), os.close(saved2)
        dt = time.perf_counter() - t0
        out_f.seek(0), err_f.seek(0)
        stdout = out_f.read().decode(errors="replace")
        stderr = err_f.read().decode(errors="replace")
        out_f.close(), err_f.close()
        os.chdir(str(WORK))
        after = snapshot(Path(cwd))
        added = sorted(k for k in after if k not in before)
        removed = sorted(k for k in before if k not in after)
        modified = sorted(k for k in after if k in before and after[k] != before[k] and after[k][0] == "f")
        hidden = sorted(k for k in after if HIDDEN_RE.match(Path(k).name))
        wnew = {d: sorted(set(hidden_in(d)) - set(wbefore[d])) for d in c["watch"]}
        res.write(json.dumps({"id": c["id"], "rc": rc, "exc": exc, "timed_out": timed_out, "seconds": round(dt, 3),
                              "stdout": stdout[-20000:], "stderr": stderr[-20000:], "added": added[:200],
                              "removed": removed[:200], "modified": modified[:200], "hidden": hidden,
                              "watch_new": {k: v for k, v in wnew.items() if v}}) + "\n")
    res.close()


# ============================================================================================ classification

TB = "Traceback (most recent call last)"


def last_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def classify(c: dict, r: dict) -> tuple[str, str]:
    """(class, why)."""
    if r is None:
        return "OTHER", "worker died before reporting (crash, os._exit or kill)"
    if r.get("timed_out"):
        return "OTHER", f"timed out after {c['timeout']} s"
    rc, err, out, exc = r["rc"], r["stderr"], r["stdout"], r["exc"]
    text = err + "\n" + out
    leftovers = r["hidden"] + [f"{d}/{n}" for d, ns in r.get("watch_new", {}).items() for n in ns]
    if c["expect"] == "debug-raise":
        if exc and "NeurodeployError" in exc["mro"]:
            return ("PARTIAL", f"leftovers {leftovers}") if leftovers else ("ok-refused", "NeurodeployError raised (--debug)")
        if exc and exc["type"] != "SystemExit":
            return "INTERNAL", f"{exc['type']}: {exc['msg'][:200]}"
        return "OTHER", f"--debug: expected the error to propagate with its traceback, got exit {rc}"
    if exc and exc["type"] != "SystemExit":
        return "INTERNAL", f"exception escaped main(): {exc['type']}: {exc['msg'][:200]}"
    if rc == 3 or "internal error" in err:
        first = next((l for l in err.splitlines() if "internal error" in l), last_line(err))
        return "INTERNAL", first[:300]
    if TB in text:
        return "INTERNAL", "traceback printed without --debug"
    if leftovers:
        return "PARTIAL", f"hidden leftovers: {leftovers}"
    errlines = [l for l in err.splitlines() if l.startswith("error:")]
    stale_removed = [k for k in r["removed"] if not HIDDEN_RE.match(Path(k).name.split("/")[0])
                     and not any(HIDDEN_RE.match(part) for part in Path(k).parts)]
    if c["expect"] == "nonzero-once":
        if rc == 0:
            return "ACCEPTED-BAD", "exit 0 although some targets must refuse"
        dup = duplicates(text)
        if dup:
            return "OTHER", f"error printed more than once: {dup[0][:150]}"
        if not errlines:
            return "OTHER", f"exit {rc} without an 'error:' line"
        return "ok-refused", "non-zero, each error once"
    if rc == 0:
        if c["expect"] == "refuse":
            return "ACCEPTED-BAD", f"exit 0; stdout: {last_line(out)[:150]}"
        missing = [f for f in (c["ok_files"] or []) if not (Path(c["cwd"]) / f).exists()]
        if missing:
            return "OTHER", f"exit 0 but {missing} not written"
        if stale_removed and c["expect"] != "either":
            return "OTHER", f"exit 0 but removed {stale_removed[:5]}"
        return "ok-compiled", "exit 0"
    if rc == 2:
        if not errlines:
            return "OTHER", "exit 2 without an 'error:' line"
        if c["expect"] == "ok":
            return "OTHER", f"valid input refused: {last_line(err)[:200]}"
        if r["added"] or r["modified"]:
            return "PARTIAL", f"refused but wrote {(r['added'] + r['modified'])[:6]}"
        if stale_removed:
            return "PARTIAL", f"refused but deleted {stale_removed[:6]}"
        missing = [m for m in c["must"] if m.lower() not in text.lower()]
        if missing:
            return "OTHER", f"problem not listed: {missing}"
        dup = duplicates(text)
        if dup:
            return "OTHER", f"line printed twice: {dup[0][:150]}"
        return "ok-refused", "exit 2"
    if rc == 130 or rc == 143:
        return "OTHER", f"exit {rc} (interrupted/terminated)"
    return "OTHER", f"exit {rc}"


def duplicates(text: str) -> list[str]:
    seen, dup = {}, []
    for line in text.splitlines():
        s = line.rstrip()
        if not (s.startswith("error:") or s.startswith("  - ") or re.match(r"^[a-z0-9_]+: .*(cannot|not|fail)", s)):
            continue
        seen[s] = seen.get(s, 0) + 1
        if seen[s] == 2:
            dup.append(s)
    return dup


# ============================================================================================ driver

def prepare_case(c: dict):
    cd = CASES_DIR / c["id"]
    if cd.exists() or cd.is_symlink():
        subprocess.run(["chmod", "-R", "u+w", str(cd)], capture_output=True)
        shutil.rmtree(cd, ignore_errors=True)
    cd.mkdir(parents=True)
    c["cwd"] = str(cd)
    if c["prep"]:
        c["prep"](cd)
    c["argv_x"] = [expand(a, cd) for a in c["argv"]]
    if c["ok_files"] is None:
        c["ok_files"] = ["out/report.json"] if any("{OUT}" in a for a in c["argv"]) else []


def run_workers(cases: list[dict], tag: str) -> dict:
    """Run cases sequentially in fresh worker subprocesses, CHUNK at a time; returns id -> raw result."""
    CHUNKS.mkdir(parents=True, exist_ok=True)
    results = {}
    pending = list(cases)
    k = 0
    while pending:
        chunk, pending = pending[:CHUNK], pending[CHUNK:]
        k += 1
        cf, rf = CHUNKS / f"{tag}_{k}.json", CHUNKS / f"{tag}_{k}.results.jsonl"
        rf.unlink(missing_ok=True)
        cf.write_text(json.dumps([{"id": c["id"], "argv": c["argv_x"], "cwd": c["cwd"], "watch": c["watch"],
                                   "timeout": c["timeout"]} for c in chunk]))
        limit = sum(c["timeout"] for c in chunk) + 60
        with open(CHUNKS / f"{tag}_{k}.log", "w") as log:
            try:
                subprocess.run([VENV_PY, str(Path(__file__).resolve()), "--worker", str(cf), str(rf)], stdout=log,
                               stderr=subprocess.STDOUT, timeout=limit, cwd=str(WORK))
            except subprocess.TimeoutExpired:
                pass
        started = []
        if rf.exists():
            for line in rf.read_text().splitlines():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if "start" in obj:
                    started.append(obj["start"])
                elif "id" in obj:
                    results[obj["id"]] = obj
        done_ids = set(results)
        # a case that started but never reported killed its worker: record it, continue with the rest
        unreported = [c for c in chunk if c["id"] not in done_ids]
        for c in unreported:
            if c["id"] in started:
                results[c["id"]] = None
        rest = [c for c in unreported if c["id"] not in started]
        pending = rest + pending
        print(f"  [{tag}] {len(results)}/{len(results) + len(pending)} cases", flush=True)
    return results


def responsible_from_tb(tb: str) -> str | None:
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', tb)
    mine = [f for f in frames if f"{REPO}/" in f[0] and "/.venv/" not in f[0]]
    if not mine:
        return None
    f = mine[-1]
    return f"{f[0].replace(f'{REPO}/', '')}:{f[1]} ({f[2]})"


def main_driver(args):
    t_start = time.perf_counter()
    if WORK.exists():
        subprocess.run(["chmod", "-R", "u+w", str(WORK)], capture_output=True)
        shutil.rmtree(WORK)
    INP.mkdir(parents=True)
    print("generating inputs ...", flush=True)
    t = time.perf_counter()
    onnx_paths = gen_onnx()
    try:
        tpaths = gen_torch_onnx()
    except Exception as e:
        SETUP_FAILED["torch_onnx"] = f"{type(e).__name__}: {e}"
        tpaths = {}
    pt_dir = gen_pt()
    npz_dir = gen_npz()
    netx_dir = gen_netx()
    nir_dir = gen_nir()
    print(f"  inputs in {time.perf_counter() - t:.1f} s; base builds ...", flush=True)
    t = time.perf_counter()
    gen_bases()
    print(f"  base builds in {time.perf_counter() - t:.1f} s", flush=True)
    cases_onnx(onnx_paths, tpaths)
    cases_pt(pt_dir)
    cases_npz(npz_dir)
    cases_netx(netx_dir)
    cases_nir(nir_dir)
    cases_options(onnx_paths)
    cases_builds(onnx_paths, npz_dir)
    selected = [c for c in CASES if not args.k or any(k in c["id"] for k in args.k)]
    if args.list:
        for c in selected:
            print(f"{c['id']:55s} {c['expect']:12s} {c['desc']}")
        print(f"{len(selected)} cases")
        if SETUP_FAILED:
            print("setup problems:", json.dumps(SETUP_FAILED, indent=1))
        return 0
    skipped = []
    runnable = []
    for c in selected:
        bad = [n for n in c["needs"] if f"base:{n}" in SETUP_FAILED]
        if bad:
            skipped.append((c, f"base build {bad} failed"))
            continue
        try:
            prepare_case(c)
            runnable.append(c)
        except Exception as e:
            skipped.append((c, f"prep failed: {type(e).__name__}: {e}"))
    inputs_before = snapshot(INP)
    print(f"running {len(runnable)} cases ({len(skipped)} skipped) ...", flush=True)
    t = time.perf_counter()
    raw = run_workers(runnable, "main")
    t_cases = time.perf_counter() - t
    by_id = {c["id"]: c for c in runnable}
    for c in runnable:
        c["result"] = raw.get(c["id"])
        c["class"], c["why"] = classify(c, c["result"])
    # rerun every non-ok case once (tree being edited), INTERNAL ones again with --debug for the raising frame
    again = [c for c in runnable if not c["class"].startswith("ok")]
    if again and not args.no_rerun:
        print(f"re-running {len(again)} non-ok cases once ...", flush=True)
        first = {c["id"]: (c["class"], c["why"], c["result"]) for c in again}
        for c in again:
            prepare_case(c)
        raw2 = run_workers(again, "rerun")
        for c in again:
            c["first"] = {"class": first[c["id"]][0], "why": first[c["id"]][1],
                          "stderr_last": last_line((first[c["id"]][2] or {}).get("stderr", ""))}
            c["result"] = raw2.get(c["id"])
            c["class"], c["why"] = classify(c, c["result"])
            c["changed_on_rerun"] = c["class"] != first[c["id"]][0]
        flaky = [c for c in again if c["changed_on_rerun"]]
        if flaky:  # the two runs disagree (the tree changed under us): a third run decides, all three are kept
            print(f"running {len(flaky)} cases whose two runs disagree a third time ...", flush=True)
            second = {c["id"]: (c["class"], c["why"], c["result"]) for c in flaky}
            for c in flaky:
                prepare_case(c)
            raw3 = run_workers(flaky, "third")
            for c in flaky:
                c["second"] = {"class": second[c["id"]][0], "why": second[c["id"]][1],
                               "stderr_last": last_line((second[c["id"]][2] or {}).get("stderr", ""))}
                c["result"] = raw3.get(c["id"])
                c["class"], c["why"] = classify(c, c["result"])
        internal = [c for c in again if c["class"] == "INTERNAL"]
        if internal:
            dbg = []
            for c in internal:
                d = dict(c)
                d["id"] = c["id"] + "#debug"
                d["argv"] = ["--debug"] + c["argv"]
                d["prep"] = c["prep"]
                prepare_case(d)
                dbg.append(d)
            raw3 = run_workers(dbg, "debug")
            for c, d in zip(internal, dbg):
                r = raw3.get(d["id"]) or {}
                tb = (r.get("exc") or {}).get("tb") or r.get("stderr", "")
                c["debug_traceback"] = tb[-6000:]
                c["raising_frame"] = responsible_from_tb(tb)
    inputs_after = snapshot(INP)
    inputs_changed = sorted(k for k in set(inputs_before) | set(inputs_after) if inputs_before.get(k) != inputs_after.get(k))
    total = time.perf_counter() - t_start
    # ---------------------------------------------------------------------------------------- report
    classes = ["ok-refused", "ok-compiled", "INTERNAL", "ACCEPTED-BAD", "PARTIAL", "OTHER"]
    counts = {k: 0 for k in classes}
    for c in runnable:
        counts[c["class"]] = counts.get(c["class"], 0) + 1
    fams = sorted({c["family"] for c in runnable})
    print()
    print(f"{'family':8s} " + " ".join(f"{k:>12s}" for k in classes) + f" {'total':>6s}")
    for f in fams:
        row = [sum(1 for c in runnable if c["family"] == f and c["class"] == k) for k in classes]
        print(f"{f:8s} " + " ".join(f"{n:12d}" for n in row) + f" {sum(row):6d}")
    print(f"{'ALL':8s} " + " ".join(f"{counts[k]:12d}" for k in classes) + f" {len(runnable):6d}")
    print()
    bad = [c for c in runnable if not c["class"].startswith("ok")]
    if bad:
        print("non-ok cases (id | class | exit | last stderr line | why):")
        for c in bad:
            r = c["result"] or {}
            rc = r.get("rc")
            flag = (f" [runs disagreed: {c['first']['class']} / {c['second']['class']} / final]"
                    if c.get("changed_on_rerun") else "")
            print(f"  {c['id']} | {c['class']}{flag} | {rc} | {last_line(r.get('stderr', ''))[:160]} | {c['why'][:160]}")
            if c.get("raising_frame"):
                print(f"      raised at {c['raising_frame']}")
    for c, why in skipped:
        print(f"  SKIPPED {c['id']}: {why}")
    if SETUP_FAILED:
        print("setup problems:", json.dumps(SETUP_FAILED, indent=1))
    if inputs_changed:
        print(f"WARNING: the CLI modified shared inputs: {inputs_changed[:10]}")
    print(f"\n{len(runnable)} cases in {t_cases:.0f} s (total with setup {total:.0f} s); results in {RESULTS}")
    dump = {"total_seconds": round(total, 1), "case_seconds": round(t_cases, 1), "counts": counts,
            "setup_failed": SETUP_FAILED, "inputs_changed": inputs_changed,
            "skipped": [{"id": c["id"], "why": w} for c, w in skipped], "cases": []}
    for c in runnable:
        r = c["result"] or {}
        dump["cases"].append({
            "id": c["id"], "family": c["family"], "desc": c["desc"], "argv": c["argv_x"], "expect": c["expect"],
            "class": c["class"], "why": c["why"], "rc": r.get("rc"), "seconds": r.get("seconds"),
            "stderr_last": last_line(r.get("stderr", "")), "stderr": (r.get("stderr", "") if len(r.get("stderr", "")) < 6000 else
                       r["stderr"][:3000] + "\n[...]\n" + r["stderr"][-3000:]),
            "stdout_tail": r.get("stdout", "")[-1500:], "exception": r.get("exc"), "added": r.get("added"),
            "removed": r.get("removed"), "modified": r.get("modified"), "hidden": r.get("hidden"),
            "resp": c["resp"], "raising_frame": c.get("raising_frame"), "debug_traceback": c.get("debug_traceback"),
            "first_run": c.get("first"), "second_run": c.get("second"),
            "changed_on_rerun": c.get("changed_on_rerun", False)})
    RESULTS.write_text(json.dumps(dump, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        sys.exit(0)
    ap = argparse.ArgumentParser(description="neurodeploy red-team harness")
    ap.add_argument("-k", action="append", help="only cases whose id contains this (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--no-rerun", action="store_true", help="do not re-run non-ok cases")
    sys.exit(main_driver(ap.parse_args()))
