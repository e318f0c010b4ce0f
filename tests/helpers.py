"""Small builders used by several test modules."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType


def single_op_graph(op: str, input_shape: tuple, params: list | None = None, attrs: dict | None = None,
                    timed: bool = False, second_input: bool = False) -> Graph:
    """x -> op(x [, y], *params) -> out, checked."""
    g = Graph([], {"x": TensorType(tuple(input_shape), timed=timed)}, ["out"])
    inputs = ["x"]
    if second_input:
        g.inputs["y"] = TensorType(tuple(input_shape), timed=timed)
        inputs.append("y")
    for i, p in enumerate(params or []):
        inputs.append(g.add_param(f"p{i}", np.asarray(p)) if p is not None else "")
    g.nodes.append(Node(op, "node", inputs, ["out"], attrs or {}))
    check_graph(g)
    return g


def torch_output(module, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module.eval()(torch.from_numpy(x)).numpy()


def leaky_snn(i_decay: float, bias: bool) -> Graph:
    """DirectEncode -> Gemm -> IF -> Gemm -> LIF (leak 1/4, current decay i_decay) -> Gemm -> readout."""
    rng = np.random.default_rng(1)
    g = Graph([], {"x": TensorType((6,))}, ["out"])
    p = lambda name, shape, lo=-0.5, hi=1.0: g.add_param(name, rng.uniform(lo, hi, shape).astype(np.float32))
    g.nodes = [
        Node("DirectEncode", "enc", ["x"], ["xs"], {"num_steps": 64}),
        Node("Gemm", "fc1", ["xs", p("w1", (16, 6)), p("b1", (16,), 0, 0.2)], ["i1"], {"transB": 1}),
        Node("IF", "if1", ["i1"], ["s1"], {"v_th": 1.0, "reset": "zero", "v_init": 0.5}),
        Node("Gemm", "fc2", ["s1", p("w2", (8, 16))] + ([p("b2", (8,), 0, 0.1)] if bias else []), ["i2"],
             {"transB": 1}),
        Node("LIF", "lif2", ["i2"], ["s2"], {"v_th": 1.5, "reset": "zero", "v_decay": 0.25, "i_decay": i_decay}),
        Node("Gemm", "fc3", ["s2", p("w3", (3, 8))], ["i3"], {"transB": 1}),
        Node("MembraneReadout", "readout", ["i3"], ["out"]),
    ]
    check_graph(g)
    return g


def recurrent_snn(seed: int = 1) -> Graph:
    """Spike input [T, N, 12] -> Gemm -> recurrent LIF (current and voltage decay) -> Gemm -> LIF -> SpikeCount: a
    trained SNN as NIR or neurodeploy.nn give it (reset to zero, fire on v > v_th)."""
    rng = np.random.default_rng(seed)
    g = Graph([], {"x": TensorType((12,), timed=True)}, ["out"], name="recurrent")
    p = lambda name, *shape, scale=0.6: g.add_param(name, rng.normal(0, scale, shape).astype(np.float32))
    neuron = {"v_th": 1.0, "reset": "zero", "fire_when": "gt"}
    g.nodes = [
        Node("Gemm", "fc1", ["x", p("w1", 16, 12), p("b1", 16, scale=0.05)], ["c1"], {"transB": 1}),
        Node("LIF", "lif1", ["c1", "", p("w_rec", 16, 16, scale=0.3)], ["s1"], {**neuron, "v_decay": 0.2, "i_decay": 0.5}),
        Node("Gemm", "fc2", ["s1", p("w2", 5, 16)], ["c2"], {"transB": 1}),
        Node("LIF", "lif2", ["c2"], ["s2"], {**neuron, "v_decay": 0.1}),
        Node("SpikeCount", "count", ["s2"], ["out"]),
    ]
    check_graph(g)
    return g


def spike_trains(steps: int, samples: int, shape: tuple, rate: float = 0.3, seed: int = 0) -> np.ndarray:
    """Seeded binary spike trains [T, N, *shape]."""
    rng = np.random.default_rng(seed)
    return (rng.random((steps, samples) + tuple(shape)) < rate).astype(np.float32)


def assert_clean_failure(result, out_dir=None, *fragments: str, code: int = 2) -> None:
    """A CLI run ``(exit code, stdout, stderr)`` that refused its input the way users are promised: exit 2, an
    ``error:`` line, no traceback, every ``fragment`` in the message, and no build folder or stale
    temporary folder left at ``out_dir``."""
    exit_code, stdout, stderr = result
    assert exit_code == code, (exit_code, stdout[-2000:], stderr[-2000:])
    assert "\nerror: " in "\n" + stderr, stderr[-2000:]
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr[-2000:])
    if out_dir is not None:
        out_dir = Path(out_dir)
        assert not out_dir.exists(), sorted(p.name for p in out_dir.iterdir())
        assert not [p for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}.")]


def byte_mutations(data: bytes, seed: int, count: int) -> list[bytes]:
    """``count`` seeded corruptions of ``data``: truncations, flipped bytes, overwritten runs, inserted junk."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        b = bytearray(data)
        kind = i % 4
        if kind == 0:
            b = b[: int(rng.integers(0, len(b)))]
        elif kind == 1:
            for pos in rng.integers(0, len(b), size=int(rng.integers(1, 16))):
                b[pos] ^= int(rng.integers(1, 256))
        elif kind == 2:
            start = int(rng.integers(0, len(b)))
            b[start:start + 64] = bytes(rng.integers(0, 256, size=len(b[start:start + 64]), dtype=np.uint8))
        else:
            pos = int(rng.integers(0, len(b)))
            b[pos:pos] = bytes(rng.integers(0, 256, size=int(rng.integers(1, 128)), dtype=np.uint8))
        out.append(bytes(b))
    return out


def benchmark_row() -> dict:
    """One row of a benchmark report (neurodeploy/benchmark.py), with one chip refusing."""
    return {"number": 6, "label": "SNN trained directly (STBP) on the events", "workload": "events",
            "architecture": "MLP", "zoo": "bench_snn_events_mlp", "dataset": "digits-events", "accuracy": 0.95,
            "memory_bits": {"Mw_bits": 100, "Ma_bits": None, "Mp_bits": 64, "Ms_bits": 2.5, "M_bits": 166.5},
            "compute": {"Cmul": 0.0, "Cadd": 40.0},
            "neurobench": {"effective_macs": 0.0, "effective_acs": 40.0, "dense": 80, "activation_sparsity": 0.9,
                           "connection_sparsity": 0.0, "footprint_bytes": 400},
            "spikes_per_inference": 4.0, "spikes_per_layer": {"2": 4.0}, "operation_energy_pj": 36.0,
            "chips": {"loihi2": {"accuracy": 0.95, "energy_uj": 1.0, "energy_range_uj": [0.5, 1.5], "latency_us": 2.0,
                                 "cores": 1, "steps": 13,
                                 "memory_bits": 120.0},
                      "truenorth": {"error": "pass 'lower_to_truenorth' failed:\n    - 2 (LIF): a voltage leak"}}}


def benchmark_report() -> dict:
    """A benchmark report as ``neurodeploy benchmark`` writes it, with rows and trade-off sweeps, without running
    the benchmark (it trains twelve networks)."""
    from neurodeploy.report import operation_costs
    from neurodeploy.report.schema import versioned

    ann = {**benchmark_row(), "number": 1, "label": "ANN", "architecture": "MLP", "chips": {},
           "chips_note": "an ANN runs on these chips once converted: model 2"}
    sweep = {"zoo": "bench_snn_events_mlp", "thresholds": "trained again at each threshold, as papers/000",
             "over_T": [{"T": t, "threshold_factor": 1.0, "accuracy": a, "Cadd": 10.0 * t, "Cmul": 0.0,
                         "spikes_per_inference": 2.0 * t} for t, a in ((2, 0.8), (4, 0.9), (8, 0.95))],
             "over_threshold": [{"T": 4, "threshold_factor": f, "accuracy": a, "Cadd": 40.0 / f, "Cmul": 0.0,
                                 "spikes_per_inference": 8.0 / f} for f, a in ((0.5, 0.85), (1.0, 0.9), (2.0, 0.7))],
             "findings": ["accuracy rises with T"]}
    return {**versioned("benchmark"), "study": "papers/000 Fig. 5 on the digits",
            "rows": [ann, benchmark_row()], "sweeps": {"trained": sweep}, "trained_now": {},
            "operation_costs": operation_costs(), "definitions": "docs/metrics.md", "wall_s": 1.0,
            "request": {"retrain": False, "eval_samples": None, "jobs": 1, "targets": ["loihi2", "truenorth"],
                        "sweeps": True}}
