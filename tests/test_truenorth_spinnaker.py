"""TrueNorth and SpiNNaker backends: op semantics by hand, quantization, mapping, energy, accuracy, the chip table."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neurodeploy.backends import get_backend
from neurodeploy.backends.spinnaker.mapping import map_to_cores as spinnaker_map
from neurodeploy.backends.spinnaker.quantize import left_shift, quantize_projection
from neurodeploy.backends.truenorth.mapping import CoreLimits, add_splitters, plan_conv, plan_gemm
from neurodeploy.backends.truenorth.quantize import reachable_levels
from neurodeploy.energy import normalized_energy
from neurodeploy.frontend import load_model
from neurodeploy.ir import reference
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
from neurodeploy.sim.evaluate import Evaluation, evaluate

TRUENORTH, SPINNAKER = get_backend("truenorth"), get_backend("spinnaker1")
LIMITS = CoreLimits.from_spec(TRUENORTH.spec)


def _tn_graph(levels, unit, threshold, leak, **attrs) -> Graph:
    g = Graph([], {"s": TensorType((np.shape(levels)[1],), timed=True)}, ["out"])
    params = [g.add_param(k, np.asarray(v, np.int64)) for k, v in
              (("levels", levels), ("unit", unit), ("threshold", threshold), ("leak", leak))]
    g.nodes = [Node("TrueNorthLayer", "tn", ["s"] + params, ["out", "sat", "partial"], attrs)]
    check_graph(g)
    return g


def test_truenorth_neuron_by_hand():
    # w = [2, -1] x unit 3 = [6, -3]; leak -1 (a bias of +1 per tick); threshold 8, linear reset
    g = _tn_graph([[2, -1]], [3], [8], [-1])
    s = np.array([[1, 0], [1, 1], [0, 0], [1, 0], [0, 0]], np.float32)[:, None, :]
    out = reference.run(g, {"s": s}, keep=["out"])["out"][:, 0, 0]
    # ticks: V = 1, 1+6+1 = 8 -> fire, 0 -> 0+6-3+1 = 4, 4+0+1 = 5, 5+6+1 = 12 -> fire (4)
    assert out.tolist() == [0, 1, 0, 0, 1]


def test_truenorth_partial_and_merge_neurons_by_hand():
    # two input groups; partials fire at 8 // 2 = 4, merge weight 10, merge threshold 10 x 8 / 4 = 20
    g = _tn_graph([[1, 1]], [4], [8], [0], fan_in_groups=2, merge_unit=10, partial_resolution=2)
    s = np.ones((6, 1, 2), np.float32)
    result = reference.run(g, {"s": s}, keep=["out", "partial"])
    # each partial gets 4 per tick from tick 1 (axon delay) and fires every tick; the merge sees 2 spikes x 10 = 20
    # per tick from tick 2 and fires every tick from tick 2
    assert result["out"][:, 0, 0].tolist() == [0, 0, 1, 1, 1, 1]
    assert result["partial"][0, 0] == 10


def test_balanced_ternary_levels_use_at_most_two_axons():
    levels = reachable_levels((1, -1, 3, -3))
    assert sorted(levels) == list(range(-4, 5))
    assert levels[2] == (1, 2) and levels[-4] == (1, 3) and max(len(t) for t in levels.values()) == 2


def test_truenorth_plans_hand_checked():
    # 1000 -> 10 dense: 64 inputs per core (4 axons each) -> 16 groups, one block of <= 128 outputs each;
    # merge neurons need 32 axons -> 8 per core -> 2 merge cores
    plan, problems = plan_gemm("fc", 10, 1000, LIMITS)
    assert (plan.groups, plan.partial_cores, plan.merge_cores, plan.axon_slots, problems) == (16, 16, 2, 4000, [])
    # 50 -> 300: one group; 2 cores of 256 neurons, each taking the 50 inputs on 200 axons
    plan, _ = plan_gemm("fc2", 300, 50, LIMITS)
    assert (plan.groups, plan.cores, plan.axon_slots) == (1, 2, 400)
    # a 50-neuron source feeding those 400 axons: 8 copies each -> one splitter level, 2 splitter cores
    source, _ = plan_gemm("fc1", 50, 10, LIMITS)
    add_splitters(source, plan.axon_slots, LIMITS)
    assert (source.copies_per_neuron, source.splitter_levels, source.splitter_cores) == (8, 1, 2)
    # 3x3 conv 1 -> 16 channels on 8x8: an 8x2 tile has a 10x4 field (160 axons) and 256 neurons -> 4 cores
    plan, _ = plan_conv("conv", (1, 8, 8), (16, 8, 8), (3, 3), (1, 1), (1, 1), 1, LIMITS)
    assert (plan.groups, plan.cores, plan.neurons) == (1, 4, 1024)


def test_truenorth_over_limit_lists_every_violation():
    _, problems = plan_conv("big_kernel", (1, 32, 32), (4, 24, 24), (9, 9), (1, 1), (1, 1), 1, LIMITS)
    assert problems == ["big_kernel: one output needs 9x9 taps x 4 axons per input = 324 axons, limit 256"]
    _, problems = plan_gemm("wide", 10, 10000, LIMITS)
    assert problems == ["wide: fan-in 10000 needs 157 input groups; a merge neuron needs 314 axons, limit 256"]


def test_spinnaker_left_shift_and_weights_as_spynnaker():
    assert [left_shift(s) for s in (0.0, 0.3, 1.0, 3.0, 4.0, 5.0)] == [0, 0, 1, 2, 3, 3]
    w = np.array([[0.5, -0.25, 1e-6], [0.75, 0.0, -2.0]])
    q, exc, inh, stats = quantize_projection(w)
    # largest excitatory sum 0.75 -> shift 0, weights x 2^15; largest inhibitory sum 2.0 -> shift 2, x 2^13
    assert (exc, inh) == (0, 2)
    assert q.tolist() == [[16384, -2048, 0], [24576, 0, -16384]]
    assert (stats["weights_zeroed"], stats["weights_clipped"]) == (1, 0)


def test_spinnaker_ops_by_hand():
    g = Graph([], {"s": TensorType((2,), timed=True)}, ["v"])
    w = g.add_param("w", np.array([[60000, 60000], [-3, 0]], np.int64))
    off = g.add_param("off", np.array([1, 0], np.int64))
    g.nodes = [Node("SpiNNakerSynapses", "syn", ["s", w], ["i", "sat"], {"left_shift_exc": 1, "left_shift_inh": 0}),
               Node("SpiNNakerIF", "pop", ["i", off], ["v", "satv"], {"v_thresh": 100000, "v_reset": 0})]
    check_graph(g)
    out = reference.run(g, {"s": np.ones((3, 1, 2), np.float32)}, keep=["i", "sat"])
    # tick 0 gets nothing (delay 1); then the 120000 sum saturates the 16-bit ring buffer at 65535, << 1
    assert out["i"][:, 0].tolist() == [[0, 0], [131070, -3], [131070, -3]]
    assert out["sat"][0].tolist() == [2, 0]
    # neuron 0: v = 0 + 1; 1 + 131070 + 1 = 131072 >= 100000 -> fire, reset 0; 131071 -> fire again
    assert out["v"][:, 0, 0].tolist() == [0, 1, 1]


def _dense_populations(sizes) -> Graph:
    g = Graph([], {"x": TensorType((sizes[0],))}, ["v"])
    g.nodes.append(Node("Gemm", "host", ["x", g.add_param("w0", np.ones((sizes[1], sizes[0]), np.float32))], ["h"],
                          {"transB": 1}))
    g.nodes.append(Node("Quantize", "q", ["h"], ["off"], {"scale": 32768.0, "bits": 32}))
    g.nodes.append(Node("SpiNNakerIF", "p1", ["", "off"], ["s1"], {"v_thresh": 1, "num_steps": 4}))
    prev = "s1"
    for i, (n_in, n_out) in enumerate(zip(sizes[1:], sizes[2:]), start=2):
        w = g.add_param(f"w{i}", np.ones((n_out, n_in), np.int64))
        b = g.add_param(f"b{i}", np.zeros(n_out, np.int64))
        op = "SpiNNakerIF" if i < len(sizes) - 1 else "SpiNNakerVoltageReadout"
        out = f"s{i}" if op == "SpiNNakerIF" else "v"
        g.nodes += [Node("SpiNNakerSynapses", f"syn{i}", [prev, w], [f"i{i}"]),
                    Node(op, f"p{i}", [f"i{i}", b], [out], {"v_thresh": 1})]
        prev = out
    check_graph(g)
    return g


def test_spinnaker_mapping_hand_checked():
    m = spinnaker_map(_dense_populations((4, 300, 600, 10)), SPINNAKER.spec)
    # cores: ceil(300/256) + ceil(600/256) + 1 = 2 + 3 + 1 = 6 on one chip; every key needs one entry there
    assert (m.cores, m.chips, m.boards, m.router_entries_max, m.violations) == (6, 1, 1, 5, [])
    p600 = m.populations[1]
    # 180000 synapses + 3 header words per (pre neuron, post core) row: 300 x 3 rows
    assert p600.synaptic_matrix_bytes == 4 * (180000 + 3 * 300 * 3)


def test_spinnaker_over_limit_lists_router_and_sdram():
    import copy
    from dataclasses import replace

    values = copy.deepcopy(SPINNAKER.spec.values)
    values["router"]["entries_per_chip"], values["chips"]["sdram_bytes"] = 4, 100000
    m = spinnaker_map(_dense_populations((4, 300, 600, 10)), replace(SPINNAKER.spec, values=values))
    # SDRAM: 4 x (180000 + 3 x 900) bytes for p2 plus 4 x (6000 + 3 x 600) for p3
    assert m.violations == ["chip 0 (p1, p2, p3): 5 router entries, limit 4",
                            "chip 0 (p1, p2, p3): synaptic matrices need 762000 bytes of SDRAM, limit 100000"]


ENERGY_KEYS = {"energy_uj", "energy_range_uj", "dynamic_energy_uj", "dynamic_energy_range_uj", "static_energy_uj",
               "static_energy_range_uj", "system_energy_uj", "system_energy_note", "energy_breakdown_uj",
               "energy_breakdown_range_uj", "latency_us", "latency_range_us", "steps", "energy_basis"}


def _assert_figures_inside_ranges(e: dict) -> None:
    """Every figure with a range twin (energy_uj -> energy_range_uj, breakdown terms) lies inside it; unknown
    figures (None) have no range."""
    def twin(key: str) -> str:
        stem, _, unit = key.rpartition("_")
        return f"{stem}_range_{unit}"

    pairs = [(k, e[k], e.get(twin(k))) for k in e
             if k.endswith(("_uj", "_us")) and "_range_" not in k and k != "system_energy_uj"
             and not isinstance(e[k], dict)]
    pairs += [(k, v, e["energy_breakdown_range_uj"][k]) for k, v in e["energy_breakdown_uj"].items()]
    assert len(pairs) >= 5
    for name, value, spread in pairs:
        if value is None:
            assert spread is None, name
            continue
        low, high = spread
        assert low * (1 - 1e-12) <= value <= high * (1 + 1e-12), f"{name} = {value} outside [{low}, {high}]"


def test_spinnaker_energy_hand_checked():
    from neurodeploy.backends.spinnaker.energy import estimate_energy

    g = _dense_populations((4, 300, 600, 10))
    m = spinnaker_map(g, SPINNAKER.spec)
    activity = Evaluation(None, np.zeros(1), 1, {"p1": 100.0, "p2": 50.0})
    e = estimate_energy(SPINNAKER.spec, m, activity, steps=10)
    assert set(e) >= ENERGY_KEYS and e["system_energy_uj"] is None and "host" in e["system_energy_note"]
    # 10 ms; static: 1 chip x 0.35 W (SpiNNMachine) .. 0.36 W (SpiNNFrontEndCommon)
    assert e["latency_us"] == 10000 and e["latency_range_us"] == [10000, 10000]
    assert e["static_energy_uj"] == pytest.approx(3500)
    assert e["static_energy_range_uj"] == pytest.approx([3500, 3600])
    # dynamic: 6 cores x 0.034 .. 0.04 W; 150 packets x 1 router x 1.0 nJ (0.8 nJ low; 0 hops on one chip)
    assert e["energy_breakdown_uj"]["active_cores"] == pytest.approx(2040)
    assert e["energy_breakdown_range_uj"]["active_cores"] == pytest.approx([2040, 2400])
    assert e["energy_breakdown_uj"]["packets"] == pytest.approx(0.15)
    assert e["energy_breakdown_range_uj"]["packets"] == pytest.approx([0.12, 0.15])
    assert e["energy_breakdown_uj"]["synaptic_events"] is None and e["energy_unknown_terms"] == ["synaptic_events"]
    assert e["energy_breakdown_range_uj"]["synaptic_events"] is None
    # the totals sum the known terms
    assert e["dynamic_energy_uj"] == pytest.approx(2040.15)
    assert e["energy_uj"] == pytest.approx(3500 + 2040.15)
    assert e["energy_range_uj"] == pytest.approx([3500 + 2040.12, 3600 + 2400.15])
    assert "active core power" in e["energy_basis"] and "synaptic_events" in e["energy_notes"][0]
    # synaptic events: 100 spikes x 600 synapses each + 50 x 10
    assert e["synaptic_events_per_inference"] == pytest.approx(100 * 600 + 50 * 10)
    _assert_figures_inside_ranges(e)


def test_spinnaker2_energy_is_unknown_throughout():
    from neurodeploy.backends.spinnaker.energy import estimate_energy

    spec = get_backend("spinnaker2").spec
    g = _dense_populations((4, 300, 600, 10))
    e = estimate_energy(spec, spinnaker_map(g, spec), Evaluation(None, np.zeros(1), 1, {"p1": 100.0}), steps=10)
    assert set(e) >= ENERGY_KEYS
    assert all(e[k] is None for k in ("energy_uj", "energy_range_uj", "dynamic_energy_uj", "dynamic_energy_range_uj",
                                      "static_energy_uj", "static_energy_range_uj"))
    assert set(e["energy_breakdown_uj"].values()) == {None} and set(e["energy_breakdown_range_uj"].values()) == {None}
    assert e["energy_unknown_terms"] == ["static", "active_cores", "packets", "synaptic_events"]
    assert e["latency_us"] == 10000 and e["energy_basis"].startswith("unknown")
    _assert_figures_inside_ranges(e)


def _tn_two_layers() -> Graph:
    """4 inputs -> 3 neurons (a) -> 2 neurons (b), as lowered TrueNorthLayers with levels over the codebook."""
    g = Graph([], {"s": TensorType((4,), timed=True)}, ["ob"])

    def layer(name, source, levels):
        params = [g.add_param(f"{name}_{k}", np.asarray(v, np.int64)) for k, v in
                  (("levels", levels), ("unit", [1] * len(levels)), ("threshold", [4] * len(levels)),
                   ("leak", [0] * len(levels)))]
        return Node("TrueNorthLayer", name, [source] + params, [f"o{name}", f"sat{name}", f"p{name}"],
                    {"codebook": [1, -1, 3, -3]})

    g.nodes = [layer("a", "s", [[2, -1, 0, 4], [1, 1, 1, 1], [0, 0, 0, -3]]), layer("b", "oa", [[1, 2, -4], [0, 3, 1]])]
    check_graph(g)
    g.meta["num_steps"] = 10
    return g


TN_ACTIVITY = Evaluation(None, np.zeros(1), 1, {"s": 40.0, "a": 30.0, "b": 5.0})


def test_truenorth_energy_hand_checked():
    from neurodeploy.backends.truenorth.energy import estimate_energy
    from neurodeploy.backends.truenorth.mapping import map_to_cores

    g = _tn_two_layers()
    m = map_to_cores(g, TRUENORTH.spec)
    # cores: a at (0, 0), its splitter at (1, 0) (3 neurons feed 3 x 4 axons of b: 4 copies), b at (2, 0)
    assert (m.cores, m.chips, m.mean_hops) == (3, 1, {"a": 1.0})
    e = estimate_energy(g, TRUENORTH.spec, m, TN_ACTIVITY)
    assert set(e) >= ENERGY_KEYS
    # crossbar bits (levels +-1, +-3: one axon type; +-2, +-4: two): a 5 + 4 + 1 = 10 over 4 inputs, b 5 + 2 = 7
    # over 3; events = 40 x 10/4 + 30 x 7/3 + 30 spikes x 4 splitter copies = 100 + 70 + 120
    assert e["synaptic_events_per_inference"] == pytest.approx(290)
    assert (e["packets_per_inference"], e["hops_per_inference"]) == (pytest.approx(30 * 4 + 5), pytest.approx(120))
    # 290 events x 2.3 pJ (range 2.26-2.63 pJ, the sweep's point pairs); the fit contains routing, so the 120 hops x
    # 2.3 pJ only raise the high end
    assert e["energy_breakdown_uj"]["synaptic_events"] == pytest.approx(290 * 2.3e-6)
    assert e["energy_breakdown_range_uj"]["synaptic_events"] == pytest.approx([290 * 2.26e-6,
                                                                               (290 * 2.63 + 120 * 2.3) * 1e-6])
    assert e["energy_breakdown_uj"]["chip_crossings"] == 0
    # 10 ticks of 1 ms; whole chip 64.4 mW (42-64.9 mW) x 10 ms; the 3 used cores' share: x 3 / 4096
    assert e["latency_us"] == 10000 and e["latency_range_us"] == pytest.approx([2000, 10000])
    assert e["static_energy_uj"] == pytest.approx(644) and e["static_energy_range_uj"] == pytest.approx([420, 649])
    assert e["static_energy_used_cores_uj"] == pytest.approx(644 * 3 / 4096)
    assert e["static_energy_used_cores_range_uj"] == pytest.approx([420 * 3 / 4096, 649 * 3 / 4096])
    assert "whole chip" in e["static_accounting"] and "conservative" in e["static_accounting"]
    assert e["energy_uj"] == pytest.approx(644 + 290 * 2.3e-6)
    assert e["energy_range_uj"] == pytest.approx([420 + 290 * 2.26e-6, 649 + (290 * 2.63 + 120 * 2.3) * 1e-6])
    assert e["system_energy_uj"] is None and "host" in e["system_energy_note"]
    _assert_figures_inside_ranges(e)


def test_truenorth_adds_no_hop_energy_on_one_chip():
    import copy
    from dataclasses import replace

    from neurodeploy.backends.truenorth.energy import estimate_energy
    from neurodeploy.backends.truenorth.mapping import map_to_cores

    g = _tn_two_layers()
    m = map_to_cores(g, TRUENORTH.spec)
    values = copy.deepcopy(TRUENORTH.spec.values)
    values["energy_pj"]["hop"], values["energy_pj_range"]["hop"] = 100.0, [100.0, 100.0]
    base = estimate_energy(g, TRUENORTH.spec, m, TN_ACTIVITY)
    costly_hops = estimate_energy(g, replace(TRUENORTH.spec, values=values), m, TN_ACTIVITY)
    assert base["hops_per_inference"] > 0 and "hops" not in base["energy_breakdown_uj"]
    # the nominal energy and the low end ignore the hop energy; only the high end uses it
    assert costly_hops["energy_uj"] == base["energy_uj"] == pytest.approx(base["static_energy_uj"] + 290 * 2.3e-6)
    assert costly_hops["energy_range_uj"][0] == base["energy_range_uj"][0]
    high = base["static_energy_range_uj"][1] + (290 * 2.3 + 120 * 100) * 1e-6
    assert costly_hops["energy_range_uj"][1] == pytest.approx(high)


def test_truenorth_chip_crossings_pay_the_link_and_whole_chips():
    from dataclasses import replace

    from neurodeploy.backends.truenorth.energy import estimate_energy
    from neurodeploy.backends.truenorth.mapping import map_to_cores

    g = _tn_two_layers()
    # the same cores, as if a's splitter sat on the next chip: every packet from it crosses one chip boundary
    m = replace(map_to_cores(g, TRUENORTH.spec), chips=2, mean_chip_crossings={"a": 1.0})
    e = estimate_energy(g, TRUENORTH.spec, m, TN_ACTIVITY)
    # 120 packets x 832 pJ (link) .. 960 pJ (link + periphery on both chips); static: 2 whole chips
    assert e["chip_crossings_per_inference"] == pytest.approx(120)
    assert e["energy_breakdown_uj"]["chip_crossings"] == pytest.approx(120 * 832e-6)
    assert e["energy_breakdown_range_uj"]["chip_crossings"] == pytest.approx([120 * 832e-6, 120 * 960e-6])
    assert e["static_energy_uj"] == pytest.approx(2 * 644)
    assert e["static_energy_used_cores_uj"] == pytest.approx(644 * 3 / 4096)
    assert any("cross chips" in n for n in e["energy_notes"])
    _assert_figures_inside_ranges(e)


def test_normalized_energy_reproduces_sc_ttfs_table_2():
    # papers/001 Table 2 (VGG16, CIFAR10): spikes per image and latency in steps of every compared method
    runs = {"sc_ttfs": (0.175e6, 108), "t2fsnn": (0.069e6, 680), "rate_2021": (5.5e6, 500),
            "phase_2018": (35.2e6, 1500), "burst_2019": (6.92e6, 1125), "rate_2017": (9.3e6, 1500),
            "rate_2020": (2.612e6, 512)}
    for chip, claimed in (("truenorth", 0.83), ("spinnaker1", 0.82)):
        spec = get_backend(chip).spec
        e = normalized_energy(runs, spec.value("normalized_energy.spike"), spec.value("normalized_energy.latency"))
        assert 1 - e["sc_ttfs"] / e["t2fsnn"] == pytest.approx(claimed, abs=0.006)


def _deploy(backend, name, digits, steps=None):
    conversion = {"num_steps": 32, **backend.conversion_defaults(), **({"num_steps": steps} if steps else {})}
    ctx = PassContext(ConversionConfig(**conversion), calibration=digits.x_train[:512], spec=backend.spec, check=True)
    ann = run_passes(load_model(name).graph, stage("canonicalize"), ctx)
    deployed = run_passes(ann, stage("rate") + backend.passes(), ctx)
    assert backend.check(deployed) == []
    return ann, deployed


@pytest.mark.parametrize("target, gap", [("spinnaker1", 0.02), ("truenorth", 0.05)])
def test_digits_cnn_accuracy_on_the_chips_arithmetic(digits, target, gap):
    backend = get_backend(target)
    ann, deployed = _deploy(backend, "digits_cnn", digits)
    ann_acc = evaluate(ann, digits.x_test, digits.y_test).accuracy
    chip = evaluate(deployed, digits.x_test, digits.y_test, backend.simulate, backend.counters(deployed))
    assert chip.num_samples == 450 and chip.accuracy >= ann_acc - gap
    assert all(r["weights"] > 0 for r in deployed.meta["quantization"] if not r.get("on_host"))


def test_compile_all_targets_and_reprint(run_cli, tmp_path):
    out = tmp_path / "all"
    code, stdout, _ = run_cli("compile", "digits_mlp", "--target", "all", "-o", out, "--eval-samples", "40")
    assert code == 0
    summary = json.loads((out / "report.json").read_text())
    rows = {r["target"]: r for r in summary["targets"]}
    assert set(rows) == {"ref", "loihi1", "loihi2", "truenorth", "spinnaker1", "spinnaker2"}
    assert all("error" not in r for r in rows.values())
    assert rows["spinnaker2"]["energy_uj"] is None and "unknown" in rows["spinnaker2"]["energy_main_terms"]
    assert rows["truenorth"]["cores"] > 0 and rows["spinnaker1"]["energy_uj"] > 0
    assert max(r["norm_energy_truenorth"] for r in rows.values()) <= 1.0
    assert (out / "truenorth" / "mapping.json").exists() and (out / "spinnaker1" / "pynn" / "pynn_network.py").exists()
    for target in ("truenorth", "spinnaker1", "spinnaker2"):
        _assert_figures_inside_ranges(json.loads((out / target / "report.json").read_text())["estimate"])
    code, reprinted, _ = run_cli("report", out)
    assert code == 0 and "normalized energy, SpiNNaker weights" in reprinted and "spinnaker2" in reprinted
    code, _, err = run_cli("report", tmp_path)
    assert code == 2 and "not a build folder" in err


def test_truenorth_takes_reset_to_zero_in_its_normal_reset_mode(digits):
    backend = get_backend("truenorth")
    ctx = PassContext(ConversionConfig(**{**backend.conversion_defaults(), "reset": "zero", "num_steps": 8}),
                      calibration=digits.x_train[:64], spec=backend.spec)
    snn = run_passes(load_model("digits_mlp").graph, stage("canonicalize") + stage("rate"), ctx)
    deployed = run_passes(snn, backend.passes(), ctx)
    assert {n.attrs["reset"] for n in deployed.find("TrueNorthLayer")} >= {"zero"}


@pytest.mark.parametrize("target, wrong", [("spinnaker1", "subtract")])
def test_wrong_reset_mode_is_refused_with_every_layer(digits, target, wrong):
    from neurodeploy.errors import UnsupportedError

    backend = get_backend(target)
    ctx = PassContext(ConversionConfig(**{**backend.conversion_defaults(), "reset": wrong, "num_steps": 8}),
                      calibration=digits.x_train[:64], spec=backend.spec)
    snn = run_passes(load_model("digits_mlp").graph, stage("canonicalize") + stage("rate"), ctx)
    with pytest.raises(UnsupportedError) as e:
        run_passes(snn, backend.passes(), ctx)
    assert len([p for p in e.value.problems if "convert with --reset" in p]) == 2  # both hidden IF layers


def test_truenorth_threshold_beyond_its_bits_is_clipped_and_counted(digits, tmp_path):
    """A hidden unit whose weights are tiny next to its threshold would need a threshold beyond TrueNorth's 18
    bits even at the smallest unit: it is set to the largest and counted (it used to wrap through int64)."""
    import warnings

    import torch

    from neurodeploy.pipeline import CompileRequest, compile_model

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 10))
    with torch.no_grad():
        model[1].weight[0] *= 1e-9
        model[1].bias[0] = 1.0  # keeps the unit active, so its threshold is set from a real activation range
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    definition = tmp_path / "tiny.py"
    definition.write_text("import torch\nINPUT_SHAPE = (1, 8, 8)\nclass Tiny(torch.nn.Sequential):\n"
                          "    def __init__(self):\n        super().__init__(torch.nn.Flatten(), torch.nn.Linear(64, 8), "
                          "torch.nn.ReLU(), torch.nn.Linear(8, 10))\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = compile_model(CompileRequest(model=str(path), definition=f"{definition}:Tiny", dataset="digits",
                                              target="truenorth", output=tmp_path / "b", eval_samples=10),
                               say=lambda s: None)
    hidden = report["quantization"][0]
    assert hidden["thresholds_clipped"] >= 1 and hidden["threshold_max"] == 2 ** 18 - 1
