"""Spiking layers for PyTorch that neurodeploy imports exactly (docs/nn.md).

Every layer works on a time-major tensor ``[T, N, *shape]``. The neurons run the time loop of the IR's ``IF`` /
``LIF`` ops (neurodeploy/ir/ops/neuron.py) in the same order of operations, in float32, so the torch.fx
front-end turns a model built from these layers into IR ops whose reference gives the same spikes step for step.
Training is plain autograd: the spike is a Heaviside step whose backward pass is a surrogate gradient chosen
per layer ('rectangular' of STBP, papers/000; 'leak_aware' after papers/003; 'fast_sigmoid').

Ordinary stateless torch layers (Conv2d, Linear, AvgPool2d, Flatten, BatchNorm, ...) are applied to every step
by :class:`PerStep`, which folds T into the batch axis; :class:`SNN` is an ``nn.Sequential`` that does the
wrapping itself. One step of a neuron (module docstring of neurodeploy/ir/ops/neuron.py)::

    i[t] = (1 - i_decay) i[t-1] + x[t] + W_rec s[t-1]
    v[t] = (1 - v_decay) v'[t-1] + i[t] + bias - (v_th s[t-1] when reset_timing = 'next_step', 'subtract')
    s[t] = v[t] > v_th  (fire_when 'gt', the default)  or  v[t] >= v_th  ('ge')
    v'[t] = v[t] - v_th s[t] ('subtract'), 0 where s[t] ('zero'), v[t] ('none' and 'next_step')
"""
from __future__ import annotations

import math

import torch
from torch import nn

from neurodeploy.errors import InputError

SURROGATES = ("rectangular", "leak_aware", "fast_sigmoid")
RESETS = ("zero", "subtract", "none")
RESET_TIMINGS = ("immediate", "next_step")
FIRE_WHEN = ("gt", "ge")


# ------------------------------------------------------------------ surrogate gradients


def rectangular(v: torch.Tensor, v_th: float, width: float) -> torch.Tensor:
    """STBP's pseudo-derivative (papers/000, the iterative LIF of Wu/Deng et al.): dS/dv = 1/a for |v - v_th| < a/2.

    Its integral is 1, as the step's; ``width`` a sets how far from threshold a neuron still learns.
    """
    return ((v - v_th).abs() < width / 2).to(v.dtype) / width


def fast_sigmoid(v: torch.Tensor, v_th: float, width: float) -> torch.Tensor:
    """SuperSpike's fast sigmoid derivative 1 / (a (1 + 2|v - v_th|/a)^2), scaled so its integral is 1 like
    the rectangular one of the same width a: heavier tails, so silent neurons still get some gradient."""
    return 1.0 / (width * (1.0 + 2.0 * (v - v_th).abs() / width) ** 2)


def leak_aware(v: torch.Tensor, v_th: float, correction: torch.Tensor) -> torch.Tensor:
    """Leak-aware pseudo-derivative of Lee, Sarwar, Panda, Srinivasan & Roy 2020 (papers/003, section 2.2.1.2,
    "Backward propagation and weight update").

    The paper derives the spike function's derivative from the rate of an IF neuron, whose spike count is its
    accumulated input over v_th: dS/dnet = 1/v_th; for a LIF neuron the leak removes part of that input, so the
    derivative is scaled by a leak correction, (1/v_th)(1 + eps) with eps <= 0 growing with the leak and taken
    from the neuron's own output spikes (the local copy of the paper lost its formulas; its summary in
    ../shared/papers/README.md states the principle). In discrete time, step by step: eps[t] = ln(1 - v_decay)
    * trace[t] / count[t], trace the neuron's own spikes decayed by (1 - v_decay) per step and count its spikes
    so far (eps = 0 before the first spike and for IF), so ``correction`` = max(0, 1 + eps) lies in
    [1 + ln(1 - v_decay), 1]. The derivative flows where the neuron integrates (v > 0).
    """
    return (v > 0).to(v.dtype) * correction / v_th


class _Spike(torch.autograd.Function):
    """Heaviside step in the forward pass, a surrogate derivative in the backward pass."""

    @staticmethod
    def forward(ctx, v, v_th, ge, kind, width, correction):
        ctx.save_for_backward(v, correction)
        ctx.v_th, ctx.kind, ctx.width = v_th, kind, width
        return (v >= v_th if ge else v > v_th).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        v, correction = ctx.saved_tensors
        if ctx.kind == "rectangular":
            slope = rectangular(v, ctx.v_th, ctx.width)
        elif ctx.kind == "fast_sigmoid":
            slope = fast_sigmoid(v, ctx.v_th, ctx.width)
        else:
            slope = leak_aware(v, ctx.v_th, correction)
        return grad * slope, None, None, None, None, None


# ------------------------------------------------------------------ neurons


def _shape(shape) -> tuple[int, ...] | None:
    if shape is None:
        return None
    return (int(shape),) if isinstance(shape, int) else tuple(int(d) for d in shape)


def _fraction(problems: list, names: tuple[str, str, str], fraction, keep, tau, dt, default):
    """One decay as the fraction lost per step, from whichever of its three spellings was given
    (fraction; 1 - retention as snnTorch's beta/alpha; dt/tau, forward Euler as Norse)."""
    given = [n for n, value in zip(names, (fraction, keep, tau)) if value is not None]
    if len(given) > 1:
        problems.append(f"give one of {', '.join(names)}, not {' and '.join(given)}")
        return default
    if fraction is not None:
        return float(fraction)
    if keep is not None:
        return 1.0 - float(keep)
    if tau is not None:
        if dt is None or not tau > 0:
            problems.append(f"{names[2]}={tau} needs dt (seconds per step) and must be > 0")
            return default
        return float(dt) / float(tau)
    return default


class _Neuron(nn.Module):
    """The shared time loop of :class:`IF` and :class:`LIF` (the IR's ``_integrate_and_fire``, in float32)."""

    ir_op = "IF"

    def __init__(self, threshold: float = 1.0, *, reset: str = "zero", reset_timing: str = "immediate",
                 fire_when: str = "gt", refractory: int = 0, v_init: float = 0.0, shape=None, bias: bool = False,
                 recurrent: bool = False, surrogate: str = "rectangular", surrogate_width: float | None = None,
                 detach_reset: bool = True, v_decay: float = 0.0, i_decay: float = 1.0, dt: float | None = None,
                 problems: list | None = None) -> None:
        super().__init__()
        self.threshold, self.reset, self.reset_timing, self.fire_when = float(threshold), reset, reset_timing, fire_when
        self.refractory, self.v_init, self.shape = refractory, float(v_init), _shape(shape)
        self.v_decay, self.i_decay, self.dt = float(v_decay), float(i_decay), dt
        self.surrogate, self.detach_reset = surrogate, bool(detach_reset)
        default_width = self.threshold if self.threshold > 0 else 1.0  # a bad threshold is reported once
        self.surrogate_width = default_width if surrogate_width is None else float(surrogate_width)
        self._validate(list(problems or []), bias, recurrent)
        self.bias = nn.Parameter(torch.zeros(self.shape)) if bias else None
        self.recurrent_weight = nn.Parameter(self._recurrent_init()) if recurrent else None

    def _validate(self, problems: list, bias: bool, recurrent: bool) -> None:
        """Every wrong setting at once, in the IR's terms (the same bounds its attribute schema enforces)."""
        name = type(self).__name__
        for label, value, choices in (("reset", self.reset, RESETS), ("reset_timing", self.reset_timing,
                                      RESET_TIMINGS), ("fire_when", self.fire_when, FIRE_WHEN),
                                      ("surrogate", self.surrogate, SURROGATES)):
            if value not in choices:
                problems.append(f"{label}={value!r}: choose one of {', '.join(choices)}")
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            problems.append(f"threshold={self.threshold} must be a finite number > 0")
        if isinstance(self.refractory, bool) or not isinstance(self.refractory, int) or self.refractory < 0:
            problems.append(f"refractory={self.refractory!r} must be a whole number of steps >= 0")
        for label, value in (("v_decay", self.v_decay), ("i_decay", self.i_decay)):
            if not 0.0 <= value <= 1.0:
                problems.append(f"{label}={value} must lie in [0, 1] (the fraction lost per step)")
        if self.dt is not None and not self.dt > 0:
            problems.append(f"dt={self.dt} must be > 0 seconds")
        if not (math.isfinite(self.surrogate_width) and self.surrogate_width > 0):
            problems.append(f"surrogate_width={self.surrogate_width} must be > 0")
        if (bias or recurrent) and (self.shape is None or min(self.shape, default=0) < 1):
            problems.append("bias=True and recurrent=True need shape= (the neuron shape per sample, e.g. 128)")
        elif recurrent and len(self.shape) != 1:
            problems.append(f"recurrent=True needs 1-D neurons (shape=(n,)), got shape={self.shape}")
        if problems:
            raise InputError(f"{name}: invalid settings", problems)

    def _recurrent_init(self) -> torch.Tensor:
        """Uniform in +-1/sqrt(n), as nn.Linear initialises an n -> n layer."""
        n = self.shape[0]
        return torch.empty(n, n).uniform_(-1.0 / math.sqrt(n), 1.0 / math.sqrt(n))

    def ir_attrs(self) -> dict:
        """The attributes of the IR op this layer lowers to."""
        attrs = {"v_th": self.threshold, "reset": self.reset, "reset_timing": self.reset_timing,
                 "fire_when": self.fire_when, "refractory": self.refractory, "v_init": self.v_init}
        if self.ir_op == "LIF":
            attrs.update(v_decay=self.v_decay, i_decay=self.i_decay, dt=self.dt)
        return attrs

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.ir_attrs().items() if v is not None) + \
            f", surrogate={self.surrogate}"

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise InputError(f"{type(self).__name__}: input must be [T, N, ...] (time, batch, neurons), "
                             f"got shape {list(x.shape)}")
        if self.shape is not None and (self.bias is not None or self.recurrent_weight is not None):
            try:
                torch.broadcast_shapes(self.shape, x.shape[2:])
            except RuntimeError:
                raise InputError(f"{type(self).__name__}: neurons {list(x.shape[2:])} per sample do not match "
                                 f"shape={list(self.shape)}") from None
            if self.recurrent_weight is not None and tuple(x.shape[2:]) != self.shape:
                raise InputError(f"{type(self).__name__}: recurrent neurons {list(self.shape)} fed "
                                 f"{list(x.shape[2:])} per sample")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes [T, N, ...] (0./1.) for input current x [T, N, ...]; every sample starts from v_init."""
        self._check_input(x)
        state = _State(self, x)
        return torch.stack([state.step(x[t]) for t in range(x.shape[0])])


class _State:
    """The evolving state of one neuron layer over one batch; ``step`` is one iteration of the IR's loop."""

    def __init__(self, layer: _Neuron, x: torch.Tensor) -> None:
        self.layer, shape = layer, x.shape[1:]
        self.v = x.new_full(shape, layer.v_init)
        self.current = x.new_zeros(shape)
        self.fired = x.new_zeros(shape)  # spikes of the previous step
        self.resting = None
        self.refractory = torch.zeros(shape, dtype=torch.int64, device=x.device) if layer.refractory else None
        self.keep_v, self.keep_i = 1.0 - layer.v_decay, 1.0 - layer.i_decay
        if layer.surrogate == "leak_aware":
            self.trace, self.count = x.new_zeros(shape), x.new_zeros(shape)

    def _integrate(self, x_t: torch.Tensor) -> torch.Tensor:
        layer, later = self.layer, self.layer.reset_timing == "next_step"
        self.current = x_t if layer.i_decay == 1.0 else self.current * self.keep_i + x_t
        if layer.recurrent_weight is not None:
            self.current = self.current + self.fired @ layer.recurrent_weight.T
        fired = self.fired.detach() if layer.detach_reset else self.fired
        previous = self.v * (1.0 - fired) if later and layer.reset == "zero" else self.v
        integrated = (previous if layer.v_decay == 0.0 else previous * self.keep_v) + self.current
        if layer.bias is not None:
            integrated = integrated + layer.bias
        if later and layer.reset == "subtract":
            integrated = integrated - layer.threshold * fired
        if self.refractory is None:
            return integrated
        self.resting = self.refractory > 0
        held = self.v  # a resting neuron keeps its reset value (a reset left for this step is applied now)
        if later and layer.reset == "subtract":
            held = self.v - layer.threshold * fired
        elif later and layer.reset == "zero":
            held = self.v * (1.0 - fired)
        return torch.where(self.resting, held, integrated)

    def _correction(self) -> torch.Tensor | None:
        """papers/003's leak correction max(0, 1 + eps) from this neuron's own earlier spikes (see leak_aware)."""
        if self.layer.surrogate != "leak_aware":
            return None
        log_keep = math.log(self.keep_v) if self.keep_v > 0 else -1e30
        eps = log_keep * self.trace / self.count.clamp(min=1.0)
        return (1.0 + eps).clamp(min=0.0)

    def step(self, x_t: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        self.v = self._integrate(x_t)
        spikes = _Spike.apply(self.v, layer.threshold, layer.fire_when == "ge", layer.surrogate,
                              layer.surrogate_width, self._correction())
        if self.resting is not None:
            spikes = spikes * (~self.resting).to(spikes.dtype)
        fired = spikes.detach() if layer.detach_reset else spikes
        if layer.reset_timing == "immediate" and layer.reset == "subtract":
            self.v = self.v - layer.threshold * fired
        elif layer.reset_timing == "immediate" and layer.reset == "zero":
            self.v = self.v * (1.0 - fired)
        if self.refractory is not None:
            self.refractory = torch.where(spikes.detach() > 0, torch.full_like(self.refractory, layer.refractory),
                                          (self.refractory - 1).clamp(min=0))
        if layer.surrogate == "leak_aware":
            self.trace = self.trace * self.keep_v + spikes.detach()
            self.count = self.count + spikes.detach()
        self.fired = spikes
        return spikes


class IF(_Neuron):
    """Integrate-and-fire neuron layer (IR op ``IF``): v[t] = v'[t-1] + x[t] + bias (+ W_rec s[t-1]).

    ``threshold`` v_th; ``reset`` 'zero' (default, as Loihi and Norse), 'subtract' or 'none'; ``reset_timing``
    'immediate' (default) or 'next_step' (snnTorch); ``fire_when`` 'gt' (default, v > v_th) or 'ge';
    ``refractory`` steps during which v holds and nothing fires; ``v_init`` the potential at step 0.
    ``shape`` (neurons per sample) is needed for ``bias=True`` (a trainable current added every step) and
    ``recurrent=True`` (a trainable W_rec [n, n] feeding the layer's own spikes of step t-1 into step t).
    ``surrogate`` 'rectangular' | 'leak_aware' | 'fast_sigmoid', ``surrogate_width`` a (default v_th);
    ``detach_reset`` (default True) passes no gradient through the reset and the recurrent reset term.
    """

    ir_op = "IF"

    def __init__(self, threshold: float = 1.0, **settings) -> None:
        super().__init__(threshold, **settings)


class LIF(_Neuron):
    """Leaky integrate-and-fire layer with optional current state (IR op ``LIF``).

    Voltage decay, one of: ``v_decay`` (fraction lost per step), ``beta`` (retention, snnTorch: v_decay =
    1 - beta) or ``tau_mem`` with ``dt`` (v_decay = dt/tau_mem, forward Euler as Norse). Current decay, one of
    ``i_decay`` / ``alpha`` / ``tau_syn``; none given means i_decay = 1, no current state (the input is the
    current). Input gains such as Norse's dt/tau_mem belong in the weights of the layer feeding the neuron.
    Every other setting as :class:`IF`.
    """

    ir_op = "LIF"

    def __init__(self, v_decay: float | None = None, i_decay: float | None = None, *, threshold: float = 1.0,
                 beta: float | None = None, alpha: float | None = None, tau_mem: float | None = None,
                 tau_syn: float | None = None, dt: float | None = None, **settings) -> None:
        problems: list[str] = []
        v = _fraction(problems, ("v_decay", "beta", "tau_mem"), v_decay, beta, tau_mem, dt, None)
        i = _fraction(problems, ("i_decay", "alpha", "tau_syn"), i_decay, alpha, tau_syn, dt, 1.0)
        if v is None and not problems:
            problems.append("give the voltage decay: v_decay, beta or tau_mem with dt")
        super().__init__(threshold, v_decay=0.0 if v is None else v, i_decay=i, dt=dt, problems=problems,
                         **settings)


class RecurrentLIF(LIF):
    """A :class:`LIF` layer of ``n`` neurons with a trainable recurrent weight W_rec [n, n]: the layer's spikes
    of step t-1 add W_rec s[t-1] to the current of step t (one-step delay, as the chips do)."""

    def __init__(self, n: int, v_decay: float | None = None, i_decay: float | None = None, **settings) -> None:
        super().__init__(v_decay, i_decay, shape=(n,), recurrent=True, **settings)


class ThresholdNeuron(LIF):
    """A neuron with no state across steps (papers/002's "turn-off" neuron): s[t] = x[t] + bias > v_th.

    It is the IR's stateless threshold neuron, ``LIF`` with v_decay = 1 and i_decay = 1: nothing of step t-1 is
    left in step t, so a reset has nothing to act on. The rounding rule is fixed: a spike when the input exceeds
    ``threshold`` strictly (default 0.5, 'gt'). papers/002's code spikes round(clamp(x, 0, 1)), which rounds half
    up in training (x = 0.5 spikes) and half to even at evaluation (x = 0.5 does not); this layer uses the
    evaluation rule in training too, and the chips (Loihi fires on v > v_th) compute the same. The surrogate
    defaults to the rectangular window of width 1 around 0.5, the straight-through gradient of clamp(x, 0, 1)."""

    def __init__(self, threshold: float = 0.5, *, surrogate_width: float | None = 1.0, **settings) -> None:
        for fixed in ("v_decay", "i_decay", "reset", "reset_timing", "refractory", "recurrent"):
            if fixed in settings:
                raise InputError(f"ThresholdNeuron: {fixed} is fixed (the neuron keeps no state across steps)")
        super().__init__(1.0, 1.0, threshold=threshold, reset="zero", surrogate_width=surrogate_width, **settings)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All steps at once: the loop of :class:`LIF` with v_decay = 1 computes v[t] = 0 + x[t] (+ bias)."""
        self._check_input(x)
        v = x if self.bias is None else x + self.bias
        return _Spike.apply(v, self.threshold, self.fire_when == "ge", self.surrogate, self.surrogate_width, None)


# ------------------------------------------------------------------ encoders and readouts


def _positive_int(name: str, layer: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{layer}: {name}={value!r} must be a whole number >= 1")
    return value


class DirectEncode(nn.Module):
    """Analog input x [N, ...] presented unchanged at each of ``num_steps`` steps: [T, N, ...] (IR ``DirectEncode``)."""

    def __init__(self, num_steps: int) -> None:
        super().__init__()
        self.num_steps = _positive_int("num_steps", "DirectEncode", num_steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0).expand(self.num_steps, *x.shape)

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}"


class RateEncode(nn.Module):
    """Stochastic rate code (IR ``RateEncode``): a spike with p = clip(gain x, 0, 1) per step ('bernoulli'), or
    p = 1 - exp(-gain x) ('poisson', at least one Poisson event in the step).

    Training mode draws fresh torch random numbers; eval mode draws exactly the IR reference's numbers (numpy
    generator seeded with ``seed``, shape [T, N, ...]), so the deployed model sees the same spikes.
    """

    def __init__(self, num_steps: int, gain: float = 1.0, distribution: str = "bernoulli", seed: int = 0) -> None:
        super().__init__()
        self.num_steps = _positive_int("num_steps", "RateEncode", num_steps)
        problems = [] if distribution in ("bernoulli", "poisson") else [
            f"distribution={distribution!r}: choose bernoulli or poisson"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            problems.append(f"seed={seed!r} must be a whole number >= 0")
        if not math.isfinite(gain):
            problems.append(f"gain={gain} must be finite")
        if problems:
            raise InputError("RateEncode: invalid settings", problems)
        self.gain, self.distribution, self.seed = float(gain), distribution, seed

    def ir_attrs(self) -> dict:
        return {"num_steps": self.num_steps, "distribution": self.distribution, "gain": self.gain, "seed": self.seed}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            from neurodeploy.ir.ops import OPS

            attrs = {**self.ir_attrs(), "gain": float(torch.tensor(self.gain, dtype=torch.float32))}
            spikes = OPS["RateEncode"].ref([x.detach().cpu().numpy().astype("float32")], attrs)[0]
            return torch.from_numpy(spikes).to(device=x.device, dtype=x.dtype)
        rate = (self.gain * x).clamp(min=0.0)
        prob = rate.clamp(max=1.0) if self.distribution == "bernoulli" else 1.0 - torch.exp(-rate)
        draws = torch.rand((self.num_steps,) + tuple(x.shape), device=x.device, dtype=x.dtype)
        return (draws < prob).to(x.dtype)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.ir_attrs().items())


class SpikeCount(nn.Module):
    """Number of spikes of each neuron over the T steps: [T, N, ...] -> [N, ...] (IR ``SpikeCount``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(0)


class MembraneReadout(nn.Module):
    """A non-spiking integrator, v[t] = (1 - v_decay) v[t-1] + x[t]; returns v after the last step [N, ...]
    (IR ``MembraneReadout``), the usual classifier output of a directly trained SNN."""

    def __init__(self, v_decay: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= v_decay <= 1.0:
            raise InputError(f"MembraneReadout: v_decay={v_decay} must lie in [0, 1]")
        self.v_decay = float(v_decay)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.v_decay == 0.0:
            return x.sum(0)
        v = torch.zeros_like(x[0])
        for t in range(x.shape[0]):
            v = v * (1.0 - self.v_decay) + x[t]
        return v

    def extra_repr(self) -> str:
        return f"v_decay={self.v_decay}"


# ------------------------------------------------------------------ stateless layers over time


class PerStep(nn.Module):
    """Apply a stateless torch module to every step of [T, N, ...]: T is folded into the batch axis, as the IR
    reference computes stateless ops on timed values. The front-end lowers ``module`` as it would any layer."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise InputError(f"PerStep({type(self.module).__name__}): input must be [T, N, ...], "
                             f"got shape {list(x.shape)}")
        steps, batch = x.shape[:2]
        y = self.module(x.reshape(steps * batch, *x.shape[2:]))
        return y.reshape(steps, batch, *y.shape[1:])


class WSConv2d(nn.Conv2d):
    """A weight-standardized convolution (papers/002 uses them instead of BatchNorm): every output channel's kernel
    is centred and scaled to unit norm over its fan-in before use,

        w_hat[o] = gain[o] * (w[o] - mean(w[o])) / sqrt(fan_in * var(w[o]) + eps),  var the biased variance,

    with a trainable ``gain`` per output channel (1 at the start). The IR keeps it as ``WSConv`` until the pass
    ``fold_weight_standardization`` replaces it by a plain Conv holding w_hat. Arguments as ``nn.Conv2d``."""

    def __init__(self, *args, eps: float = 1e-6, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":
            raise InputError(f"WSConv2d: padding_mode='{self.padding_mode}' (only 'zeros' is supported)")
        self.eps = float(eps)
        self.gain = nn.Parameter(torch.ones(self.out_channels))

    def standardized_weight(self) -> torch.Tensor:
        w = self.weight
        flat = w.reshape(w.shape[0], -1)
        mean, var = flat.mean(dim=1, keepdim=True), flat.var(dim=1, unbiased=False, keepdim=True)
        scaled = (flat - mean) / torch.sqrt(var * flat.shape[1] + self.eps) * self.gain.unsqueeze(1)
        return scaled.reshape_as(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.standardized_weight(), self.bias)


class ChannelScale(nn.Module):
    """y = s * x with one trainable factor per channel (axis 1 of [N, C, ...]): ReZero / layer scale on a residual
    branch (papers/002), or the leak of a state carried from one step to the next. The IR's ``Mul`` by a per-channel
    constant, which the export passes fold into the synapses before it (additions only on the chip).
    ``init`` the starting value; ``bound`` > 0 clamps s into [-bound, bound] after every optimiser step (call
    :meth:`clamp_`), None leaves it free."""

    def __init__(self, channels: int, init: float = 1.0, bound: float | None = None) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), float(init)))
        self.bound = bound

    def clamp_(self) -> None:
        if self.bound is not None:
            with torch.no_grad():
                self.scale.clamp_(-self.bound, self.bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.reshape((1, -1) + (1,) * (x.dim() - 2))

    def extra_repr(self) -> str:
        return f"channels={self.scale.numel()}, bound={self.bound}"


class TimeDropout(nn.Module):
    """Dropout for SNNs (papers/003, section 2.2.2): one random mask per sample held for all T steps of the
    iteration, not redrawn per step; identity in eval mode (the IR's ``Dropout``). p = 0.2-0.25 in the paper."""

    def __init__(self, p: float = 0.2) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise InputError(f"TimeDropout: p={p} must lie in [0, 1)")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = torch.bernoulli(torch.full_like(x[0], 1.0 - self.p)) / (1.0 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


NEURONS = (IF, LIF)  # ThresholdNeuron and RecurrentLIF are LIFs
ENCODERS = (DirectEncode, RateEncode)
READOUTS = (SpikeCount, MembraneReadout)
TEMPORAL = NEURONS + ENCODERS + READOUTS + (PerStep, TimeDropout)
"""Layers that take time-major input (or make it); the torch.fx front-end treats each as one leaf."""


class SNN(nn.Sequential):
    """``nn.Sequential`` for spiking models: every stateless layer that receives a timed value ([T, N, ...]:
    after an encoder, or from the start when the model has no encoder and takes spikes) is wrapped in
    :class:`PerStep`; layers before the encoder or after a readout act on [N, ...] as usual."""

    def __init__(self, *layers: nn.Module) -> None:
        timed = not any(isinstance(m, ENCODERS) for m in layers)
        wrapped = []
        for layer in layers:
            if isinstance(layer, ENCODERS):
                timed = True
            elif isinstance(layer, READOUTS):
                timed = False
            elif timed and not isinstance(layer, TEMPORAL + (SNN,)):
                layer = PerStep(layer)
            wrapped.append(layer)
        super().__init__(*wrapped)
