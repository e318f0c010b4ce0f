"""Train the digits models and write their checkpoints (state dicts) into models/checkpoints/.

    python -m neurodeploy.models.train_digits            # both models, ~20 s on 2 cores
    python -m neurodeploy.models.train_digits --model digits_cnn --out /tmp/ckpt

Deterministic: fixed seeds, one thread, deterministic torch algorithms, the fixed train/test split of
neurodeploy.data; rerunning reproduces the shipped checkpoints.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neurodeploy.models import CHECKPOINT_DIR, ZOO

EPOCHS = {"digits_cnn": 30, "digits_mlp": 60}
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
SEED = 0


def train(name: str):
    """Train zoo model ``name`` on the digits train split; returns (model, test accuracy)."""
    import torch

    from neurodeploy.data import load_digits_dataset

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    data = load_digits_dataset()
    model = ZOO[name].build()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, EPOCHS[name])
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS[name]):
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(BATCH_SIZE):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        predictions = model(torch.from_numpy(data.x_test)).argmax(1).numpy()
    return model, float(np.mean(predictions == data.y_test))


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(EPOCHS) + ["all"], default="all")
    parser.add_argument("--out", type=Path, default=CHECKPOINT_DIR, help="checkpoint folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in sorted(EPOCHS) if args.model == "all" else [args.model]:
        start = time.perf_counter()
        model, accuracy = train(name)
        path = args.out / ZOO[name].checkpoint
        torch.save(model.state_dict(), path)
        print(f"{name}: test accuracy {accuracy:.4f} ({time.perf_counter() - start:.1f} s) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
