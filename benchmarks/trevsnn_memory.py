"""Benchmark: training memory and time of the T-RevSNN-style digits network, memory-saving mode vs plain BPTT.

    ./.venv/bin/python benchmarks/trevsnn_memory.py [--steps 2 4 8] [--batch 1024] [--epochs 1] [--json PATH]

models/trevsnn.py's ``DigitsTRevSNN(num_steps=T, save_memory=...)`` trains either with plain BPTT through all T
columns (``save_memory=False``) or with every column under ``torch.utils.checkpoint`` (``save_memory=True``: only
the turn-on states and spikes crossing from one step to the next are kept, a column is recomputed in backward).
papers/002 claims O(L) training memory against O(L * T). For each T and mode, in a fresh process (so allocator
state does not leak between configurations), on one thread:

* saved: bytes of the tensors saved for backward during the forward pass, parameters excluded, each storage counted
  once (``saved_tensors_hooks``; checkpoint saves its inputs through the outer hooks, so this is what is kept across
  the checkpoints; the profiler's live bytes at the end of the forward pass cross-check it);
* peak: the peak of live tensor bytes during forward + backward of one batch (the CPU allocator's events recorded by
  ``torch.profiler`` with ``profile_memory=True``, relative to the start);
* RSS: the process's peak resident set (ru_maxrss, reset through /proc/self/clear_refs) during the same forward +
  backward, minus the resident set just before it, with glibc malloc's default settings (its heap keeps freed
  blocks resident) and again in a process where every block of 128 KiB or more is mmapped and unmapped when freed
  (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_): the first is what a training run costs the machine, the
  second what the tensors themselves need;
* s/epoch: one epoch (or ``--epochs``) on the digits training split as the zoo trains digits_trevsnn (batch 32,
  Adam lr 5e-3, spike_bp_loss with one readout step, rectangular surrogate of width 1, the leaks clamped).

It also checks that both modes give the same gradients (one batch of 32, identical weights). Done-criterion of
the issue: peak training memory at T = 8 with the memory-saving mode <= 1/3 of plain BPTT.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time

MIB = 2 ** 20
MODES = {"bptt": False, "save_memory": True}
# glibc: fixed thresholds (no dynamic raise), so large tensors are mmapped and their pages given back on free
UNCACHED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
CRITERION_STEPS, CRITERION_RATIO = 8, 1 / 3


# ------------------------------------------------------------------ one configuration (runs in a worker process)


def _options():
    from neurodeploy.models.benchmark import TRAINING

    return TRAINING["digits_trevsnn"].options


def _model(steps: int, save_memory: bool):
    from neurodeploy.models.recipes import set_surrogate
    from neurodeploy.models.trevsnn import DigitsTRevSNN

    options = _options()
    model = DigitsTRevSNN(num_steps=steps, save_memory=save_memory).train()
    set_surrogate(model, options.surrogate, options.surrogate_width)
    return model


def _train_data(n: int | None = None):
    import torch

    from neurodeploy.data import load_dataset

    data = load_dataset("digits")
    return torch.from_numpy(data.x_train[:n]), torch.from_numpy(data.y_train[:n])


def _loss(model, x, y):
    from neurodeploy.models.recipes import spike_bp_loss, time_major

    return spike_bp_loss(model(time_major(model, x)), y, 1)  # papers/002: cross-entropy on the logits


def _backward(model, x, y) -> None:
    model.zero_grad(set_to_none=True)
    _loss(model, x, y).backward()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Reset the peak resident set (VmHWM, which ru_maxrss reads) to the current one; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_growth(model, x, y) -> dict:
    """Peak RSS during forward + backward minus the RSS just before; ``exact`` False where the peak could not be
    reset and an earlier, higher peak may hide this one."""
    gc.collect()
    reset = _reset_peak_rss()
    before, earlier_peak = _rss_bytes(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    _backward(model, x, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"rss_mib": (peak - before) / MIB, "rss_exact": reset or peak > earlier_peak}


def saved_bytes(model, x, y) -> int:
    """Bytes saved for backward during the forward pass, each storage once, parameters excluded."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = _loss(model, x, y)
    del loss  # frees the graph and what it saved
    return sum(storages.values())


def profiled_bytes(model, x, y) -> dict:
    """Live tensor bytes at the end of the forward pass and their peak during forward + backward, from the CPU
    allocator's events (relative to the start of profiling)."""
    from torch.profiler import ProfilerActivity, profile, record_function

    model.zero_grad(set_to_none=True)
    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        with record_function("trevsnn_forward"):
            loss = _loss(model, x, y)
        loss.backward()
    events = list(prof.profiler.kineto_results.events())
    forward = next(e for e in events if e.name() == "trevsnn_forward")
    forward_end = forward.start_us() + forward.duration_us()
    memory = sorted(((e.start_us(), e.nbytes()) for e in events if e.name() == "[memory]"), key=lambda r: r[0])
    live = peak = held = 0
    for start, nbytes in memory:
        live += nbytes
        peak = max(peak, live)
        if start <= forward_end:
            held = live
    return {"held_mib": held / MIB, "peak_mib": peak / MIB}


def epoch_seconds(model, epochs: int, generator) -> float:
    """Mean seconds per epoch of the zoo's training loop (models/recipes.py ``_fit``) on the digits split."""
    import torch

    options = _options()
    x, y = _train_data()
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(options.batch_size):
            optimizer.zero_grad()
            _loss(model, x[batch], y[batch]).backward()
            optimizer.step()
            model.clamp_()
    return (time.perf_counter() - start) / epochs


def measure(steps: int, save_memory: bool, batch: int, epochs: int, rss_only: bool = False) -> dict:
    """Every figure of one configuration (only the RSS growth with ``rss_only``); call in a fresh process."""
    from neurodeploy.models.recipes import reproducible

    with reproducible(0) as generator:
        model = _model(steps, save_memory)
        x, y = _train_data(batch)
        _backward(model, x[:32], y[:32])  # warm-up: one-time allocations (kernels, autograd) outside the figures
        row = {"steps": steps, "mode": "save_memory" if save_memory else "bptt", "batch": len(x)}
        row.update(rss_growth(model, x, y))  # first, before anything else raises the allocator's footprint
        if rss_only:
            return row
        row["saved_mib"] = saved_bytes(model, x, y) / MIB
        row.update(profiled_bytes(model, x, y))
        row["epoch_s"] = epoch_seconds(model, epochs, generator)
    return row


# ------------------------------------------------------------------ the driver


def run_worker(env: dict | None = None, **spec) -> dict:
    """:func:`measure` (keyword arguments ``spec``) in a fresh interpreter with ``env`` added to the environment;
    its last line of output is the row as JSON."""
    spec = json.dumps(spec)
    done = subprocess.run([sys.executable, __file__, "--worker", spec], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"worker {spec} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def grad_difference(steps: int) -> float:
    """Max |grad| difference over all parameters between the two modes: identical weights, one batch of 32; inf
    where a parameter has a gradient in one mode only."""
    from neurodeploy.models.recipes import reproducible

    with reproducible(0):
        plain = _model(steps, save_memory=False)
        saving = _model(steps, save_memory=True)
        saving.load_state_dict(plain.state_dict())
        x, y = _train_data(32)
        for model in (plain, saving):
            _backward(model, x, y)
        return max(_grad_gap(a.grad, b.grad) for a, b in zip(plain.parameters(), saving.parameters()))


def _grad_gap(a, b) -> float:
    if a is None or b is None:
        return 0.0 if a is None and b is None else float("inf")
    return float((a - b).abs().max())


def _rss(row: dict, key: str) -> str:
    return f"{row[key]:.1f}" + ("" if row[key.replace("mib", "exact")] else " (lower bound)")


def print_tables(rows: list[dict], grads: dict[int, float]) -> None:
    print("| T | mode | saved for backward MiB | live after forward MiB | peak fwd+bwd MiB | RSS growth MiB "
          "| RSS growth, uncached malloc MiB | s/epoch |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['steps']} | {r['mode']} | {r['saved_mib']:.1f} | {r['held_mib']:.1f} | {r['peak_mib']:.1f} "
              f"| {_rss(r, 'rss_mib')} | {_rss(r, 'rss_uncached_mib')} | {r['epoch_s']:.2f} |")
    print("\nratios bptt / save_memory (memory) and save_memory / bptt (time):\n")
    print("| T | saved | peak | RSS | RSS, uncached malloc | time | max abs grad difference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for steps, pair in _pairs(rows).items():
        ratio = _ratios(pair)
        print(f"| {steps} | {ratio['saved']:.2f} | {ratio['peak']:.2f} | {ratio['rss']:.2f} "
              f"| {ratio['rss_uncached']:.2f} | {ratio['time']:.2f} | {grads[steps]:.3g} |")


def _pairs(rows: list[dict]) -> dict[int, dict[str, dict]]:
    pairs: dict[int, dict[str, dict]] = {}
    for r in rows:
        pairs.setdefault(r["steps"], {})[r["mode"]] = r
    return pairs


def _ratios(pair: dict[str, dict]) -> dict[str, float]:
    plain, saving = pair["bptt"], pair["save_memory"]
    return {"saved": plain["saved_mib"] / saving["saved_mib"], "peak": plain["peak_mib"] / saving["peak_mib"],
            "rss": plain["rss_mib"] / saving["rss_mib"],
            "rss_uncached": plain["rss_uncached_mib"] / saving["rss_uncached_mib"],
            "time": saving["epoch_s"] / plain["epoch_s"]}


def criterion(rows: list[dict]) -> dict | None:
    """The issue's done-criterion on the tensors' peak, and as second opinions on both RSS growths."""
    pair = _pairs(rows).get(CRITERION_STEPS)
    if pair is None:
        return None
    fractions = {key: pair["save_memory"][key] / pair["bptt"][key]
                 for key in ("peak_mib", "rss_mib", "rss_uncached_mib")}
    verdict = {"fractions": fractions, "holds": fractions["peak_mib"] <= CRITERION_RATIO}
    print(f"\ndone-criterion (T = {CRITERION_STEPS}: save_memory peak <= 1/3 of bptt): "
          f"{'holds' if verdict['holds'] else 'DOES NOT hold'}")
    for key, label in (("peak_mib", "peak fwd+bwd"), ("rss_mib", "RSS growth"),
                       ("rss_uncached_mib", "RSS growth, uncached malloc")):
        within = "within" if fractions[key] <= CRITERION_RATIO else "above"
        print(f"  {label:28s} {fractions[key]:.3f} of bptt ({within} 1/3)")
    return verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8], help="T values (columns / time steps)")
    parser.add_argument("--batch", type=int, default=1024, help="samples in the memory-measurement batch")
    parser.add_argument("--epochs", type=int, default=1, help="epochs timed per configuration")
    parser.add_argument("--json", help="write the rows, gradient differences and criterion here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one configuration, as JSON
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(**json.loads(args.worker))))
        return 0

    start = time.perf_counter()
    rows = [run_worker(steps=t, save_memory=save, batch=args.batch, epochs=args.epochs)
            for t in args.steps for save in MODES.values()]
    for row in rows:
        uncached = run_worker(UNCACHED_MALLOC, steps=row["steps"], save_memory=MODES[row["mode"]], batch=args.batch,
                              epochs=args.epochs, rss_only=True)
        row["rss_uncached_mib"], row["rss_uncached_exact"] = uncached["rss_mib"], uncached["rss_exact"]
    grads = {t: grad_difference(t) for t in args.steps}
    print(f"DigitsTRevSNN, memory batch {rows[0]['batch']} samples, one thread, fresh process per row; "
          f"time over {args.epochs} epoch(s) of the digits training split at batch {_options().batch_size}\n")
    print_tables(rows, grads)
    verdict = criterion(rows)
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "max_grad_difference": grads, "criterion": verdict}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
