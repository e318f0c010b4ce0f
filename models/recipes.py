"""Direct-training recipes for spiking networks built from neurodeploy.nn (docs/training.md has the equations).

* :func:`train_stbp`: spatio-temporal backpropagation (papers/000, Wu, Deng et al.): the iterative LIF
  u[t+1] = tau u[t] (1 - o[t]) + W o[t] + b, o = H(u - u_th) (neurodeploy.nn ``LIF(v_decay=1 - tau,
  reset='zero')``) with the rectangular pseudo-derivative (1/a) 1{|u - u_th| < a/2}; the loss is the mean squared
  error between the one-hot label and the output layer's firing rate (its spike count over T), and the prediction
  is the class with the most spikes. The model's output must be that spike count ([N, classes], e.g. a last LIF
  layer and ``SpikeCount``).
* :func:`train_spike_bp`: spike-based backpropagation (papers/003, Lee, Sarwar, Panda, Srinivasan & Roy 2020):
  the leak-aware pseudo-derivative, dropout with one mask per sample and mini-batch held for every time step
  (``neurodeploy.nn.TimeDropout`` layers in the model, p = 0.2), and a non-spiking output layer: the loss is the
  cross-entropy of the readout's potential after the last step divided by T (``MembraneReadout``), as in the paper.

Both take any model and data set (``neurodeploy.data.Dataset`` or its name): analog samples [N, *shape] for a model
with an encoder, or event trains [N, T, *shape] for a model without one (fed time-major, [T, N, *shape], as
neurodeploy.nn layers take them). Both set each neuron's surrogate to their own (the forward pass, and so the
deployed network, does not depend on it) and are reproducible on one machine as ``train_digits`` is: fixed seeds,
one thread, deterministic torch algorithms, a seeded batch order; the thread count and determinism flag are
restored afterwards. Across machines float rounding differs, so weights differ slightly. :func:`train_ann` is the
plain cross-entropy loop for the benchmark's ANNs.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass

import numpy as np

SEED = 0


@dataclass(frozen=True)
class TrainOptions:
    """Optimisation settings shared by the recipes: Adam with weight decay and a cosine learning-rate schedule over
    the epochs, mini-batches in a seeded random order. ``train_samples`` keeps the first n training samples (tests).
    ``surrogate`` replaces the recipe's own surrogate gradient (None: STBP's 'rectangular', spike-based BP's
    'leak_aware'); ``surrogate_width`` sets the rectangular window a (None: each layer's own, v_th)."""

    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = SEED
    train_samples: int | None = None
    surrogate: str | None = None
    surrogate_width: float | None = None


# ------------------------------------------------------------------ losses


def stbp_loss(counts, labels, num_steps: int):
    """papers/000's loss: L = mean over samples n and classes c of (y_nc - counts_nc / T)^2, y the one-hot label
    and counts / T the output layer's firing rate (a torch scalar)."""
    import torch

    target = torch.nn.functional.one_hot(labels, counts.shape[1]).to(counts.dtype)
    return torch.nn.functional.mse_loss(counts / num_steps, target)


def spike_bp_loss(readout, labels, num_steps: int):
    """papers/003's loss: the cross-entropy of softmax(v / T), v the output neurons' potential after the last of T
    steps (their input summed over the window, so v / T is the mean input current per step)."""
    import torch

    return torch.nn.functional.cross_entropy(readout / num_steps, labels)


# ------------------------------------------------------------------ helpers for any model


def encoder_of(model):
    """The model's encoder (DirectEncode / RateEncode), or None for a model that takes spike trains."""
    from neurodeploy.nn import ENCODERS

    return next((m for m in model.modules() if isinstance(m, ENCODERS)), None)


def takes_spikes(model) -> bool:
    """Whether ``model`` takes spike trains: it has neurodeploy.nn layers but no encoder (the front-end's rule)."""
    from neurodeploy.nn import TEMPORAL

    return encoder_of(model) is None and any(isinstance(m, TEMPORAL) for m in model.modules())


def time_major(model, x):
    """The model's input for data-set samples ``x``: event trains [N, T, ...] as [T, N, ...] for a model that takes
    spikes, anything else unchanged."""
    return x.transpose(0, 1) if takes_spikes(model) else x


def num_steps(model, x) -> int:
    """T: the encoder's number of steps, the length of the event trains [N, T, ...] ``x`` of a model that takes
    spikes, or 1 for an ANN."""
    encoder = encoder_of(model)
    if encoder is not None:
        return encoder.num_steps
    return int(x.shape[1]) if takes_spikes(model) else 1


def set_surrogate(model, surrogate: str, width: float | None = None) -> int:
    """Give every IF/LIF layer of ``model`` this surrogate gradient (and rectangular width); returns how many."""
    from neurodeploy.nn import NEURONS

    neurons = [m for m in model.modules() if isinstance(m, NEURONS)]
    for m in neurons:
        m.surrogate = surrogate
        if width is not None:
            m.surrogate_width = float(width)
    return len(neurons)


def predict(model, x, batch_size: int = 512) -> np.ndarray:
    """Class predictions (argmax of the output, ties to the lower class) of ``model`` in eval mode for data-set
    samples ``x`` (a numpy array)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(time_major(model, torch.from_numpy(x[start:start + batch_size]))).argmax(1).numpy())
    return np.concatenate(out)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples whose prediction is their label."""
    return float(np.mean(predict(model, x) == y))


@contextlib.contextmanager
def reproducible(seed: int):
    """Seeded, one-thread, deterministic torch for the block; yields the batch-order generator."""
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield torch.Generator().manual_seed(seed)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _dataset(dataset):
    from neurodeploy.data import load_dataset

    return load_dataset(dataset) if isinstance(dataset, str) else dataset


def _fit(model, dataset, epochs: int, loss_fn, options: TrainOptions, recipe: str) -> tuple[object, dict]:
    """The shared loop: Adam + cosine schedule over ``epochs``, seeded batch order; returns (model, metrics)."""
    import torch

    data = _dataset(dataset)
    n = len(data.x_train) if options.train_samples is None else options.train_samples
    x, y = torch.from_numpy(data.x_train[:n]), torch.from_numpy(data.y_train[:n])
    steps = num_steps(model, x)
    start, losses = time.perf_counter(), []
    with reproducible(options.seed) as generator:
        optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(epochs, 1))
        for _ in range(epochs):
            model.train()
            total = 0.0
            for batch in torch.randperm(len(x), generator=generator).split(options.batch_size):
                optimizer.zero_grad()
                loss = loss_fn(model(time_major(model, x[batch])), y[batch], steps)
                loss.backward()
                optimizer.step()
                if hasattr(model, "clamp_"):  # parameters with bounds (models/trevsnn.py's leaks)
                    model.clamp_()
                total += float(loss) * len(batch)
            losses.append(total / len(x))
            schedule.step()
        seconds = time.perf_counter() - start
        test = accuracy(model, data.x_test, data.y_test)
    return model, {"recipe": recipe, "dataset": data.name, "epochs": epochs, "num_steps": steps,
                   "train_samples": int(n), "loss": losses, "test_accuracy": test,
                   "train_seconds": round(seconds, 2), "options": asdict(options)}


# ------------------------------------------------------------------ the recipes


def train_stbp(model, dataset, epochs: int, options: TrainOptions = TrainOptions()) -> tuple[object, dict]:
    """Train ``model`` with STBP (papers/000): rectangular surrogate in every neuron, :func:`stbp_loss` on the
    model's output spike counts. Returns (model, metrics: loss per epoch, test accuracy, training time, ...)."""
    set_surrogate(model, options.surrogate or "rectangular", options.surrogate_width)
    return _fit(model, dataset, epochs, stbp_loss, options, "stbp")


def train_spike_bp(model, dataset, epochs: int, options: TrainOptions = TrainOptions()) -> tuple[object, dict]:
    """Train ``model`` with spike-based BP (papers/003): leak-aware surrogate in every neuron, the model's own
    ``TimeDropout`` layers active in training, :func:`spike_bp_loss` on its membrane readout. Returns (model,
    metrics as :func:`train_stbp`'s, plus the dropout rates found)."""
    from neurodeploy.nn import TimeDropout

    set_surrogate(model, options.surrogate or "leak_aware", options.surrogate_width)
    model, metrics = _fit(model, dataset, epochs, spike_bp_loss, options, "spike_bp")
    metrics["time_dropout"] = [m.p for m in model.modules() if isinstance(m, TimeDropout)]
    return model, metrics


def train_ann(model, dataset, epochs: int, options: TrainOptions = TrainOptions()) -> tuple[object, dict]:
    """The plain ANN loop of ``train_digits`` (cross-entropy on the logits) for the benchmark's ANNs, so that every
    benchmark model trains with the same optimiser, schedule and seeding."""
    import torch

    return _fit(model, dataset, epochs, lambda logits, labels, _: torch.nn.functional.cross_entropy(logits, labels),
                options, "ann")


RECIPES = {"stbp": train_stbp, "spike_bp": train_spike_bp, "ann": train_ann}
