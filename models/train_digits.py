"""Train the digits models and write their checkpoints (state dicts).

    python -m neurodeploy.models.train_digits                  # every trained zoo model into build/checkpoints/, ~3 min
    python -m neurodeploy.models.train_digits --model digits_cnn --out /tmp/ckpt
    python -m neurodeploy.models.train_digits --out models/checkpoints   # replace the shipped checkpoints
    python -m neurodeploy.models.train_digits --model bench_snn_events_mlp --out /tmp/ckpt   # a benchmark model

The benchmark models of papers/000 and the deep SNNs of papers/003 (models/benchmark.py) train with the recipes of
models/recipes.py (STBP, spike-based BP, or the ANN loop) on their own data sets; ``benchmark.TRAINING`` holds
their epochs and settings (docs/training.md).

Reproducible on one machine: fixed seeds, one thread, deterministic torch algorithms and the fixed train/test
split of neurodeploy.data give identical weights on every run. Across machines float training is not
bit-identical (CPU and BLAS kernels round differently): a retrained checkpoint reaches the shipped one's test
accuracy (within a point here) with different weights, so the shipped files are never overwritten unless
``--out`` names their folder.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neurodeploy.models import CHECKPOINT_DIR, ZOO
from neurodeploy.models.benchmark import TRAINING

EPOCHS = {"digits_cnn": 30, "digits_mlp": 60, "digits_snn": 40, **{name: t.epochs for name, t in TRAINING.items()}}
# digits_snn (neurodeploy.nn layers, T = 8 steps, backpropagation through time with STBP's rectangular surrogate,
# papers/000): its membrane readout sums the 8 steps, so the loss sees the readout averaged over them
LOSS_SCALE = {"digits_snn": 1 / 8}
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
SEED = 0


DEFAULT_OUT = Path("build") / "checkpoints"


def train(name: str, epochs: int | None = None):
    """Train zoo model ``name`` on the digits train split (``epochs`` defaults to the recipe's); returns
    (model, test accuracy). A benchmark model trains with its recipe on its data set (``benchmark.TRAINING``)."""
    import torch

    if name in TRAINING:
        model, metrics = train_benchmark(name, epochs)
        return model, metrics["test_accuracy"]

    from neurodeploy.data import load_digits_dataset

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    data = load_digits_dataset()
    model = ZOO[name].build()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    epochs = epochs or EPOCHS[name]
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(BATCH_SIZE):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]) * LOSS_SCALE.get(name, 1.0), y[batch]).backward()
            optimizer.step()
        schedule.step()
    return model, test_accuracy(model)


def train_benchmark(name: str, epochs: int | None = None):
    """Build benchmark model ``name`` with seeded weights and train it with its recipe; returns (model, metrics)."""
    import torch

    from neurodeploy.models.benchmark import build_for_training
    from neurodeploy.models.recipes import RECIPES

    plan = TRAINING[name]
    torch.manual_seed(plan.options.seed)
    model = build_for_training(name)
    return RECIPES[plan.recipe](model, plan.dataset, epochs or plan.epochs, plan.options)


def test_accuracy(model) -> float:
    """Accuracy of ``model`` on the digits test split (450 images)."""
    import torch

    from neurodeploy.data import load_digits_dataset

    data = load_digits_dataset()
    model.eval()
    with torch.no_grad():
        predictions = model(torch.from_numpy(data.x_test)).argmax(1).numpy()
    return float(np.mean(predictions == data.y_test))


def shipped_accuracy(name: str) -> float:
    """Test accuracy of the checkpoint shipped for zoo model ``name``."""
    from neurodeploy.frontend import load_state_dict

    model = ZOO[name].build()
    load_state_dict(model, ZOO[name].checkpoint_path)
    if name in TRAINING:  # evaluated on the data set it trains on (the frames SNNs: analog frames, own encoder)
        from neurodeploy.data import load_dataset
        from neurodeploy.models.recipes import accuracy

        data = load_dataset(TRAINING[name].dataset)
        return accuracy(model, data.x_test, data.y_test)
    return test_accuracy(model)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(EPOCHS) + ["all"], default="all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"checkpoint folder (default {DEFAULT_OUT}; the shipped ones are in {CHECKPOINT_DIR})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in sorted(EPOCHS) if args.model == "all" else [args.model]:
        start = time.perf_counter()
        model, accuracy = train(name)
        path = args.out / ZOO[name].checkpoint
        torch.save(model.state_dict(), path)
        shipped = ZOO[name].checkpoint_path
        shipped = f"{shipped_accuracy(name):.4f}" if shipped.is_file() else "none"
        print(f"{name}: test accuracy {accuracy:.4f} (shipped checkpoint: {shipped}; "
              f"{time.perf_counter() - start:.1f} s) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
