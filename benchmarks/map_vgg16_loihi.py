"""Benchmark: lower VGG16-SNN to Loihi 2 fixed point and map it onto cores; time and peak memory.

    ./.venv/bin/python benchmarks/map_vgg16_loihi.py [--target loihi2] [--calibration-samples 8] [--steps 8]

Random weights and random calibration images (VGG16 is a scale test). Goal for the mapping: <= 10 s and
<= 2 GB on the 2-core CI machine. Lowering (quantization) runs the float SNN on the calibration images to find
each layer's peak current, so its time grows with samples x steps; it is reported separately.
"""
from __future__ import annotations

import argparse
import resource
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="loihi2")
    parser.add_argument("--calibration-samples", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()

    import numpy as np
    import torch

    from neurodeploy.backends import get_backend
    from neurodeploy.backends.loihi.mapping import map_to_cores
    from neurodeploy.frontend.torch_fx import from_torch
    from neurodeploy.models import ZOO
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage

    torch.manual_seed(0)
    backend = get_backend(args.target)
    entry = ZOO["vgg16"]
    calibration = np.random.default_rng(0).random((args.calibration_samples, *entry.input_shape), dtype=np.float32)
    ctx = PassContext(ConversionConfig(**{**backend.conversion_defaults(), "num_steps": args.steps}),
                      calibration=calibration, spec=backend.spec)
    t = time.perf_counter()
    snn = run_passes(from_torch(entry.build().eval(), entry.input_shape, "vgg16"),
                     stage("canonicalize") + stage("rate"), ctx)
    convert_s = time.perf_counter() - t
    t = time.perf_counter()
    lowered = run_passes(snn, backend.passes(), ctx)
    lower_s = time.perf_counter() - t
    t = time.perf_counter()
    mapping = map_to_cores(lowered, backend.spec)
    map_s = time.perf_counter() - t
    t = time.perf_counter()
    estimate = backend.estimate(lowered, _uniform_activity(lowered, rate=0.05))
    estimate_s = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"VGG16-SNN on {args.target}: {sum(m.neurons for m in mapping.layers):,} neurons, "
          f"{sum(m.synapses for m in mapping.layers):,} synapses in {len(mapping.layers)} layers")
    print(f"  cores {mapping.cores}, chips {mapping.chips}, violations {len(mapping.violations)}")
    for m in mapping.layers:
        print(f"    {m.layer:22s} {m.neurons:8d} neurons {m.synapses:12,d} synapses {m.cores:5d} cores "
              f"({m.limited_by}, utilization {m.utilization:.2f})")
    print(f"  import + BN fold + rate conversion   {convert_s:6.2f} s")
    print(f"  quantize + lower ({args.calibration_samples} samples x {args.steps} steps) {lower_s:6.2f} s")
    print(f"  core mapping                         {map_s:6.2f} s   (goal <= 10 s)")
    print(f"  energy estimate (per-core traffic)   {estimate_s:6.2f} s   ({estimate['energy_uj']:.4g} uJ, "
          f"{estimate['messages_per_inference']:.4g} messages at a uniform 0.05 spikes per neuron and step)")
    print(f"  peak resident memory (whole process) {peak_mb:6.0f} MB (goal <= 2048 MB)")
    return 0


def _uniform_activity(g, rate: float):
    """Every neuron spiking ``rate`` times per step, every compartment active: a stand-in for a measured run."""
    import numpy as np

    from neurodeploy.metrics import InputActivity, synapse_inputs
    from neurodeploy.sim.evaluate import Evaluation

    steps = int(g.meta["num_steps"])
    inputs = {v: InputActivity(np.full(g.types[v].shape, rate * steps), True) for v in synapse_inputs(g).values()}
    lif = g.find("LoihiLIF", "LoihiVoltageReadout")
    spikes = {n.name: rate * steps * g.types[n.outputs[0]].size for n in lif if n.op == "LoihiLIF"}
    updates = {f"{n.name}:updates": float(steps * g.types[n.outputs[0]].size) for n in lif}
    return Evaluation(None, np.zeros(1), 1, spikes, updates, inputs)


if __name__ == "__main__":
    raise SystemExit(main())
