"""Gradient fine-tuning of TTFS / SC-TTFS thresholds (papers/001 §3.4), as a pass.

The temporal SNN is run in torch with each neuron's closed form: spike times come from the threshold curves
(no gradient), the decoded value theta_e(t_e) + theta_c(t_c) is differentiable in alpha, beta, k (eq. 21-23),
and a straight-through estimate passes the gradient to v where the code can represent it (0 < v < top value).
Trained per layer: alpha, beta, k of both curves, and the per-channel scale and shift of every Conv/Gemm:
BatchNorm is already folded into them, and with its statistics frozen, training gamma and beta of a BN is the same
as training that scale and shift, which are folded back into W and b afterwards (eq. 24).
Loss: cross-entropy of the output layer's membrane potential (the last Conv/Gemm) on the training split.

The threshold gradient holds spike times fixed (as eq. 21-23 do), so a long run keeps raising thresholds until
spikes leave the window and the network collapses; the loss of the true forward pass is therefore measured after
every epoch and the parameters of the best epoch (possibly the initial ones) are kept.
"""
from __future__ import annotations

import time

import numpy as np

from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.ir.check import infer_shapes
from neurodeploy.ir.graph import Graph, Node
from neurodeploy.ir.ops import OPS, resolve_attrs
from neurodeploy.passes.convert_temporal import set_curves

_SUPPORTED = ("Conv", "Gemm", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Add", "Mul", "Dropout",
              "Identity", "TTFS", "SCTTFS", "TTFSDecode")


class _Curve:
    """theta(t) = alpha exp(-k t + beta) over one window, as torch parameters."""

    def __init__(self, torch, alpha: float, beta: float, k: float, steps: int) -> None:
        self.params = [torch.nn.Parameter(torch.tensor(float(p), dtype=torch.float64)) for p in (alpha, beta, k)]
        self.t = torch.arange(steps, dtype=torch.float64)

    def values(self):
        alpha, beta, k = self.params
        return alpha * (-k * self.t + beta).exp()

    def clamp(self) -> None:
        self.params[0].data.clamp_(min=1e-6)
        self.params[2].data.clamp_(min=1e-4)


def _first_crossing(torch, v, curve):
    """Index of the first t with v >= curve[t] (curve decreasing); T where none. No gradient."""
    ascending = curve.detach().flip(0).contiguous()
    return len(curve) - torch.searchsorted(ascending, v.detach().contiguous(), right=True)


def decoded_value(torch, v, enc, cal):
    """theta_e(t_e) [+ theta_c(t_c)] with spike times from the closed form, plus the straight-through gradient."""
    steps = len(enc)
    padded = lambda curve: torch.cat([curve, curve.new_zeros(1)])
    t_enc = _first_crossing(torch, v, enc)
    value = padded(enc)[t_enc]
    top = enc[0]
    if cal is not None:
        t_cal = torch.maximum(_first_crossing(torch, v - value.detach(), cal), t_enc)
        t_cal = torch.where(t_enc < steps, t_cal, torch.full_like(t_cal, steps))
        value = value + padded(cal)[t_cal]
        top = top + cal[0]
    window = ((v > 0) & (v < top.detach())).to(v.dtype)
    return value + (v - v.detach()) * window


class TorchSNN:
    """The temporal graph in torch: trainable curves per neuron, trainable scale/shift per Conv/Gemm."""

    def __init__(self, g: Graph) -> None:
        import torch

        self.torch, self.g = torch, g
        unsupported = [f"{n}: op {n.op} has no torch form for fine-tuning" for n in g.nodes if n.op not in _SUPPORTED]
        if unsupported:
            raise UnsupportedError("threshold fine-tuning cannot run this graph:", unsupported)
        self.attrs = {n.name: resolve_attrs(OPS[n.op], n) for n in g.nodes}
        self.curves: dict[str, tuple[_Curve, _Curve | None]] = {}
        for n in g.find("TTFS", "SCTTFS"):
            a, steps = self.attrs[n.name], self.attrs[n.name]["num_steps"]
            cal = _Curve(torch, a["alpha_c"], a["beta_c"], a["k_c"], steps) if n.op == "SCTTFS" else None
            self.curves[n.name] = (_Curve(torch, a["alpha"], a["beta"], a["k"], steps), cal)
        weighted = {v for n in g.find("Conv", "Gemm") for v in n.inputs[1:]}  # held below as trainable copies
        self.constants = {v: torch.tensor(p, dtype=torch.float64) for v, p in g.params.items() if v not in weighted}
        self.weights, self.scales, self.shifts = {}, {}, {}
        for n in g.find("Conv", "Gemm"):
            w = g.param_of(n, 1)
            b = g.param_of(n, 2)
            self.weights[n.name] = torch.tensor(w, dtype=torch.float64)
            self.scales[n.name] = torch.nn.Parameter(torch.ones(w.shape[0], dtype=torch.float64))
            self.shifts[n.name] = torch.nn.Parameter(torch.tensor(np.zeros(w.shape[0]) if b is None else
                                                                  np.broadcast_to(b.reshape(-1), (w.shape[0],)),
                                                                  dtype=torch.float64))

    def parameters(self) -> tuple[list, list]:
        """(threshold parameters, scale/shift parameters)."""
        curves = [p for pair in self.curves.values() for c in pair if c is not None for p in c.params]
        return curves, list(self.scales.values()) + list(self.shifts.values())

    def _weighted(self, n: Node, x):
        F = self.torch.nn.functional
        w, scale, shift = self.weights[n.name], self.scales[n.name], self.shifts[n.name]
        if n.op == "Gemm":
            return x @ (w * scale[:, None]).T + shift
        a = self.attrs[n.name]
        pads = a["pads"] or (0, 0, 0, 0)
        x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
        return F.conv2d(x, w * scale[:, None, None, None], shift, tuple(a["strides"] or (1, 1)), 0,
                        tuple(a["dilations"] or (1, 1)), a["group"])

    def _apply(self, n: Node, args: list):
        F, a = self.torch.nn.functional, self.attrs[n.name]
        if n.op in ("Conv", "Gemm"):
            return self._weighted(n, args[0])
        if n.op in ("TTFS", "SCTTFS"):
            enc, cal = self.curves[n.name]
            return decoded_value(self.torch, args[0], enc.values(), cal.values() if cal else None)
        if n.op == "AveragePool":
            if any(a["pads"] or ()):
                raise UnsupportedError(f"{n}: padded average pooling has no torch form for fine-tuning")
            return F.avg_pool2d(args[0], tuple(a["kernel_shape"]), tuple(a["strides"] or a["kernel_shape"]))
        if n.op == "GlobalAveragePool":
            return args[0].mean(dim=(2, 3), keepdim=True)
        if n.op in ("Flatten", "Reshape"):
            return args[0].reshape((args[0].shape[0],) + self.g.types[n.outputs[0]].shape)
        if n.op in ("Add", "Mul"):
            fn = self.torch.add if n.op == "Add" else self.torch.mul
            return fn(args[0], args[1])
        return args[0]  # Dropout, Identity; TTFSDecode reads the neuron's decoded value

    def forward(self, x):
        env = {next(iter(self.g.inputs)): x, **self.constants}
        for n in self.g.nodes:
            reads = n.inputs[:1] if n.op in ("Conv", "Gemm") else n.inputs  # weights: self.weights
            args = [env[v] for v in reads if v]
            value = self._apply(n, args)
            env.update({v: value for v in n.outputs})  # a TTFS neuron's spike outputs all stand for its value
        return env[self.g.outputs[0]]

    def write_back(self) -> Graph:
        """A copy of the graph with the trained curves and the scale/shift folded into W and b."""
        g = self.g.copy()
        for name, (enc, cal) in self.curves.items():
            curves = dict(zip(("alpha", "beta", "k"), (float(p) for p in enc.params)))
            if cal is not None:
                curves.update(zip(("alpha_c", "beta_c", "k_c"), (float(p) for p in cal.params)))
            set_curves(g, g.node(name), curves)
        for name, w in self.weights.items():
            node = g.node(name)
            scale = self.scales[name].detach().numpy()
            shape = (-1,) + (1,) * (w.dim() - 1)
            g.set_param(node, 1, (w.numpy() * scale.reshape(shape)).astype(np.float32))
            bias = self.shifts[name].detach().numpy().astype(np.float32)
            if len(node.inputs) > 2 and node.inputs[2]:
                g.set_param(node, 2, bias)
            else:
                node.inputs.append(g.add_param(f"{name}.bias", bias))
        return infer_shapes(g)


def _loss_and_accuracy(model: TorchSNN, x, y, batch: int = 512) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of the true forward pass on (x, y)."""
    torch = model.torch
    loss, hits = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model.forward(x[i:i + batch])
            loss += float(torch.nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum"))
            hits += int((out.argmax(1) == y[i:i + batch]).sum())
    return loss / len(x), hits / len(x)


def _snapshot(model: TorchSNN) -> list:
    curves, affine = model.parameters()
    return [p.detach().clone() for p in curves + affine]


def _restore(model: TorchSNN, saved: list) -> None:
    curves, affine = model.parameters()
    for p, value in zip(curves + affine, saved):
        p.data.copy_(value)



def _train_epoch(model, x, y, cfg, optimizer, schedule, batches: int) -> None:
    """One pass over the shuffled training samples; the decay curves are clamped back to valid tables after each
    step."""
    import torch

    order = torch.randperm(len(x))
    for i in range(batches):
        idx = order[i * cfg.finetune_batch:(i + 1) * cfg.finetune_batch]
        loss = torch.nn.functional.cross_entropy(model.forward(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        for pair in model.curves.values():
            for curve in pair:
                if curve is not None:
                    curve.clamp()

def finetune_thresholds(g: Graph, ctx) -> Graph:
    """Train the threshold curves and per-channel scale/shift (see the module docstring).

    Requires: ``ctx.training`` = (inputs, labels) unless ``conversion.finetune_epochs`` is 0. Keeps: the graph's
    structure; records loss and accuracy before and after in ``meta['finetune']``.
    """
    cfg = ctx.conversion
    if cfg.finetune_epochs <= 0:
        return g
    if ctx.training is None:
        raise InputError("threshold fine-tuning needs a labelled training split; give --dataset, or set "
                         "--finetune-epochs 0")
    import torch

    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    x = torch.tensor(ctx.training[0], dtype=torch.float64)
    y = torch.tensor(ctx.training[1], dtype=torch.long)
    model = TorchSNN(infer_shapes(g.copy()))
    curves, affine = model.parameters()
    optimizer = torch.optim.Adam([{"params": curves, "lr": cfg.finetune_lr},
                                  {"params": affine, "lr": cfg.finetune_lr * 0.1}])
    batches = max(1, int(np.ceil(len(x) / cfg.finetune_batch)))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.finetune_epochs * batches)
    history = [_loss_and_accuracy(model, x, y)]
    best = (history[0][0], 0, _snapshot(model))
    from neurodeploy.progress import bar

    with bar(cfg.finetune_epochs, "fine-tune thresholds", unit="epoch") as progress:
        for epoch in range(1, cfg.finetune_epochs + 1):
            _train_epoch(model, x, y, cfg, optimizer, schedule, batches)
            history.append(_loss_and_accuracy(model, x, y))
            if history[-1][0] < best[0]:
                best = (history[-1][0], epoch, _snapshot(model))
            progress.update()
    _restore(model, best[2])
    out = model.write_back()
    out.meta["finetune"] = {"epochs": cfg.finetune_epochs, "kept_epoch": best[1], "samples": len(x),
                            "train_loss": [round(h[0], 5) if np.isfinite(h[0]) else None for h in history],
                            "train_accuracy": [round(h[1], 4) for h in history]}
    ctx.timings.append(("finetune_thresholds (training)", round(time.perf_counter() - start, 2)))
    return out
