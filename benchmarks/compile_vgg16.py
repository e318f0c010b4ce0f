"""Benchmark: compile VGG16 (torch.fx import, BatchNorm folding, rate conversion) and print time and memory.

    ./.venv/bin/python benchmarks/compile_vgg16.py [--calibration-samples 32]

Goal on the 2-core CI machine: <= 15 s wall time and <= 2 GB peak memory. Torch's own import is timed
separately; the peak is the whole process's resident set (ru_maxrss), torch included.
"""
from __future__ import annotations

import argparse
import resource
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration-samples", type=int, default=32)
    parser.add_argument("--steps", type=int, default=64)
    args = parser.parse_args()

    start = time.perf_counter()
    import numpy as np
    import torch

    from neurodeploy.frontend.torch_fx import from_torch
    from neurodeploy.ir.summary import summarize
    from neurodeploy.models import ZOO
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage

    imported = time.perf_counter()
    torch.manual_seed(0)
    entry = ZOO["vgg16"]
    module = entry.build().eval()
    calibration = np.random.default_rng(0).random((args.calibration_samples, *entry.input_shape), dtype=np.float32)
    timings = {}

    t = time.perf_counter()
    graph = from_torch(module, entry.input_shape, "vgg16")
    timings["import (torch.fx)"] = time.perf_counter() - t
    ctx = PassContext(ConversionConfig(num_steps=args.steps), calibration=calibration)
    t = time.perf_counter()
    ann = run_passes(graph, stage("canonicalize"), ctx)
    timings["canonicalize (BN fold)"] = time.perf_counter() - t
    t = time.perf_counter()
    snn = run_passes(ann, stage("rate"), ctx)
    timings[f"rate conversion ({args.calibration_samples} calibration samples)"] = time.perf_counter() - t

    rows = summarize(snn)
    compile_time = sum(timings.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"VGG16-SNN: {len(snn.nodes)} nodes, {sum(r.neurons for r in rows):,} neurons, "
          f"{sum(r.synapses for r in rows):,} synapses, {sum(r.parameters for r in rows):,} parameters")
    for label, seconds in timings.items():
        print(f"  {label:45s} {seconds:6.2f} s")
    print(f"  {'compile total':45s} {compile_time:6.2f} s   (goal <= 15 s)")
    print(f"  {'python + torch + neurodeploy import':45s} {imported - start:6.2f} s")
    print(f"  {'peak resident memory (whole process)':45s} {peak_mb:6.0f} MB (goal <= 2048 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
