"""Benchmark: lower VGG16-SNN to TrueNorth or SpiNNaker and map it onto cores; time and peak memory.

    ./.venv/bin/python benchmarks/map_vgg16_chips.py --target truenorth|spinnaker1|spinnaker2 [--calibration-samples 8]

Random weights and calibration images (a scale test). Goal (issue 4): mapping <= 30 s and <= 2 GB per chip.
"""
from __future__ import annotations

import argparse
import resource
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="truenorth")
    parser.add_argument("--calibration-samples", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()

    import numpy as np
    import torch

    from neurodeploy.backends import get_backend
    from neurodeploy.frontend.torch_fx import from_torch
    from neurodeploy.models import ZOO
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage

    torch.manual_seed(0)
    backend = get_backend(args.target)
    mapper = __import__(f"neurodeploy.backends.{args.target.rstrip('12')}.mapping", fromlist=["map_to_cores"])
    entry = ZOO["vgg16"]
    calibration = np.random.default_rng(0).random((args.calibration_samples, *entry.input_shape), dtype=np.float32)
    ctx = PassContext(ConversionConfig(**{**backend.conversion_defaults(), "num_steps": args.steps}),
                      calibration=calibration, spec=backend.spec)
    snn = run_passes(from_torch(entry.build().eval(), entry.input_shape, "vgg16"), stage("canonicalize") + stage("rate"), ctx)
    t = time.perf_counter()
    lowered = run_passes(snn, backend.passes(), ctx)
    lower_s = time.perf_counter() - t
    t = time.perf_counter()
    mapping = mapper.map_to_cores(lowered, backend.spec)
    map_s = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {k: v for k, v in mapping.as_dict().items() if not isinstance(v, (list, dict))}
    print(f"VGG16-SNN on {args.target}: {summary}")
    print(f"  violations: {len(mapping.violations)}" + "".join(f"\n    {v}" for v in mapping.violations[:10]))
    print(f"  quantize + lower (plans included)    {lower_s:6.2f} s")
    print(f"  core mapping                         {map_s:6.2f} s   (goal <= 30 s)")
    print(f"  peak resident memory (whole process) {peak_mb:6.0f} MB (goal <= 2048 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
