"""The IR's neuron semantics for trained SNNs: reset order, firing test, refractory steps, bias, recurrence."""
import numpy as np
import pytest

from neurodeploy.errors import GraphError
from neurodeploy.ir import reference
from neurodeploy.ir.check import check_graph
from neurodeploy.ir.graph import Graph, Node, TensorType


def _run(x, attrs, op="LIF", params=None):
    """One neuron layer on x [T, 1, n]; ``params`` are the optional bias and recurrent weight."""
    n = x.shape[-1]
    g = Graph([], {"x": TensorType((n,), timed=True)}, ["s"], name="one")
    inputs = ["x"]
    for role, array in (params or {}).items():
        inputs.append(g.add_param(role, np.asarray(array, np.float32)) if array is not None else "")
    g.nodes = [Node(op, "n", inputs, ["s"], attrs)]
    check_graph(g)
    return reference.run(g, {"x": np.asarray(x, np.float32)})["s"][:, 0]


def _steps(*values):
    return np.array(values, np.float32).reshape(-1, 1, 1)


def test_reset_now_decays_the_remainder_reset_next_step_subtracts_after_the_decay():
    x = _steps(1.5, 0, 0.6)
    now = dict(v_th=1.0, v_decay=0.5, reset="subtract")
    assert _run(x, now)[:, 0].tolist() == [1, 0, 0]          # 0.5 -> 0.25 -> 0.725
    later = dict(now, reset_timing="next_step")
    assert _run(x, later)[:, 0].tolist() == [1, 0, 0]        # 1.5 -> 0.75 - 1 = -0.25 -> 0.475
    x = _steps(1.5, 0.9)
    assert _run(x, now)[:, 0].tolist() == [1, 1]             # 0.25 + 0.9 = 1.15
    assert _run(x, later)[:, 0].tolist() == [1, 0]           # 0.75 + 0.9 - 1 = 0.65


def test_reset_to_zero_is_the_same_now_or_at_the_next_step():
    x = _steps(1.2, 0.7, 0.4, 1.1)
    attrs = dict(v_th=1.0, v_decay=0.25, reset="zero")
    assert np.array_equal(_run(x, attrs), _run(x, dict(attrs, reset_timing="next_step")))


def test_fire_when_ge_or_gt_at_exactly_the_threshold():
    assert _run(_steps(1.0), dict(v_th=1.0, v_decay=0.0))[0, 0] == 1
    assert _run(_steps(1.0), dict(v_th=1.0, v_decay=0.0, fire_when="gt"))[0, 0] == 0


def test_no_reset_keeps_firing_above_threshold():
    assert _run(_steps(2, 0, 0), dict(v_th=1.0, v_decay=0.0, reset="none"))[:, 0].tolist() == [1, 1, 1]


def test_refractory_steps_hold_the_voltage_and_the_current_still_decays():
    x = _steps(*[1.0] * 7)
    assert _run(x, dict(v_th=1.0, v_decay=0.0, reset="zero", refractory=2))[:, 0].tolist() == [1, 0, 0, 1, 0, 0, 1]
    # i_decay 0.5: the current keeps integrating while v holds; i = 1, 1.5, 1.75, 1.875 ...
    spikes = _run(_steps(1, 0, 0, 0), dict(v_th=1.0, v_decay=0.0, i_decay=0.5, reset="zero", refractory=1))
    assert spikes[:, 0].tolist() == [1, 0, 0, 0]  # after the rest: v = 0.125 < 1


def test_bias_is_added_to_the_voltage_every_step():
    spikes = _run(_steps(0, 0, 0, 0), dict(v_th=1.0, reset="zero"), op="IF", params={"bias": [0.5]})
    assert spikes[:, 0].tolist() == [0, 1, 0, 1]


def test_recurrent_weight_carries_last_steps_spikes():
    x = np.zeros((3, 1, 2), np.float32)
    x[0, 0, 0] = 1.0
    w_rec = [[0.0, 0.0], [2.0, 0.0]]  # neuron 0 -> neuron 1
    spikes = _run(x, dict(v_th=1.0, v_decay=0.0, reset="zero"), params={"bias": None, "w_rec": w_rec})
    assert spikes.tolist() == [[1, 0], [0, 1], [0, 0]]


def test_recurrent_weight_of_the_wrong_shape_is_refused_by_name():
    with pytest.raises(GraphError, match=r"n \(LIF\): recurrent weight \[3, 2\] must be \[2, 2\]"):
        _run(np.zeros((2, 1, 2)), dict(v_th=1.0, v_decay=0.0), params={"bias": None, "w_rec": np.zeros((3, 2))})


def test_pad_steps_appends_silent_steps():
    g = Graph([Node("PadSteps", "p", ["x"], ["y"], {"steps": 2})], {"x": TensorType((3,), timed=True)}, ["y"])
    out = reference.run(g, {"x": np.ones((4, 2, 3), np.float32)})["y"]
    assert out.shape == (6, 2, 3) and out[4:].sum() == 0 and out[:4].sum() == 24


def test_a_reset_left_for_the_next_step_is_applied_while_resting():
    attrs = dict(v_th=1.0, v_decay=0.0, reset="subtract", reset_timing="next_step", refractory=2)
    # 0.6, 1.2 (spike), rest at 1.2 - 1 = 0.2, rest, 0.8, 1.4 (spike)
    assert _run(_steps(*[0.6] * 6), attrs)[:, 0].tolist() == [0, 1, 0, 0, 0, 1]


@pytest.mark.parametrize("weight", [0.1, 0.2, 0.3, 0.35, 0.7, 1 / 3])
def test_potentials_landing_on_the_threshold_fire_as_in_float32_torch(weight):
    """Sums like 5 x 0.2 hit the threshold only up to float32 rounding: the reference rounds as torch does."""
    import torch
    from torch import nn

    from neurodeploy.frontend.torch_fx import from_torch
    from neurodeploy.nn import LIF, SNN, SpikeCount

    for fire_when in ("gt", "ge"):
        for reset in ("subtract", "zero"):
            for v_decay in (0.0, 0.1, 0.5):
                linear = nn.Linear(1, 1, bias=False)
                linear.weight.data[:] = weight
                model = SNN(linear, LIF(v_decay=v_decay, threshold=1.0, reset=reset, fire_when=fire_when),
                            SpikeCount()).eval()
                g = from_torch(model, (1,), "m")
                x = torch.ones(40, 1, 1)
                with torch.no_grad():
                    want = model(x).numpy()
                got = reference.run(g, {next(iter(g.inputs)): x.numpy()})[g.outputs[0]]
                assert np.array_equal(got, want), (fire_when, reset, v_decay, got, want)
