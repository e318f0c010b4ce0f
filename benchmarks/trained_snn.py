"""Benchmark: the figures of issue 11 (trained SNNs) in one run.

    ./.venv/bin/python benchmarks/trained_snn.py [--work /tmp/nd-trained-snn]

* the digits SNN (neurodeploy.nn, T = 8): training time and accuracy, float vs loihi2 golden accuracy;
* lif_norse.nir at dt = 1e-4 against the Loihi 2 hardware trace: output spike steps, voltage error;
* cnn_sinabs.nir on loihi2, spinnaker1 and truenorth: cores and activity per chip;
* the Braille SRNNs and cnn_sinabs on loihi2: golden vs Lava, identical samples and throughput.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

NIR_FILES = Path(__file__).resolve().parents[2] / "shared" / "external" / "nir"


def _quiet(_):
    pass


def digits_snn(work: Path) -> None:
    from neurodeploy.pipeline import CompileRequest, compile_model
    from neurodeploy.models.train_digits import train

    start = time.perf_counter()
    _, accuracy = train("digits_snn")
    print(f"digits_snn: trained in {time.perf_counter() - start:.1f} s, torch test accuracy {100 * accuracy:.2f} %")
    report = compile_model(CompileRequest(model="digits_snn", output=work / "digits_snn", target="loihi2"), _quiet)
    print(f"digits_snn: float SNN {100 * report['snn']['accuracy']:.2f} %, loihi2 golden "
          f"{100 * report['deployed']['accuracy']:.2f} % ({report['deployed']['steps']} steps)")


def hardware_trace() -> None:
    from neurodeploy.backends import get_backend
    from neurodeploy.frontend.nir_import import load_nir
    from neurodeploy.ir import reference
    from neurodeploy.ir.ops import OPS, resolve_attrs
    from neurodeploy.ir.ops.loihi import lif_dynamics
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes

    data = np.loadtxt(NIR_FILES / "lif_loihi2_hardware_trace.csv", delimiter=",")
    x, v_chip, s_chip = data[:, 0].astype(np.float32), data[:, 1], data[:, 2].astype(bool)
    backend = get_backend("loihi2")
    ctx = PassContext(ConversionConfig(num_steps=len(x)), calibration=x.reshape(1, -1, 1), spec=backend.spec)
    g = run_passes(load_nir(NIR_FILES / "lif_norse.nir", dt=1e-4), backend.passes(), ctx)
    lif, = g.find("LoihiLIF")
    feed = {next(iter(g.inputs)): x.reshape(-1, 1, 1)}
    out = reference.run(g, feed, keep=[lif.inputs[0], lif.outputs[0]])
    attrs = resolve_attrs(OPS[lif.op], lif)
    current = out[lif.inputs[0]]
    v = np.array([float(v[0, 0]) for v, *_ in lif_dynamics(current, g.param_of(lif, 1), attrs, len(current),
                                                             current.shape[1:])])[:len(x)]
    spikes = np.flatnonzero(out[lif.outputs[0]][:len(x), 0, 0])
    other = ~s_chip
    scale = float(v_chip[other] @ v[other] / (v[other] @ v[other]))
    error = np.abs(scale * v[other] - v_chip[other]).max() / v_chip.max()
    print(f"lif_norse vs Loihi 2 trace: spikes at {spikes.tolist()} (chip {np.flatnonzero(s_chip).tolist()}), "
          f"voltage within {100 * error:.2f} % of the chip's peak after one scale factor ({scale:.5f})")


def chips(work: Path) -> None:
    from neurodeploy.pipeline import CompileRequest, compile_model

    for target in ("loihi2", "spinnaker1", "truenorth"):
        report = compile_model(CompileRequest(model=str(NIR_FILES / "cnn_sinabs.nir"), output=work / f"cnn_{target}",
                                              target=target, conversion={"num_steps": 20}), _quiet)
        e = report["estimate"]
        print(f"cnn_sinabs on {target}: {e.get('cores')} cores, {report['deployed']['spikes_per_inference']:.0f} "
              f"spikes per inference (float SNN {report['snn']['spikes_per_inference']:.0f}), "
              f"{len(report['activity_warnings'])} activity warnings")


def golden_vs_lava(work: Path, samples: int) -> None:
    from neurodeploy.pipeline import CompileRequest, compile_model
    from neurodeploy.run import run_build

    for name, steps in (("braille_noDelay_bias_zero", None), ("braille_noDelay_noBias_subtract", None),
                        ("cnn_sinabs", 20)):
        out = work / f"lava_{name}"
        conversion = {"num_steps": steps} if steps else {}
        compile_model(CompileRequest(model=str(NIR_FILES / f"{name}.nir"), output=out, target="loihi2",
                                     conversion=conversion), _quiet)
        result = run_build(out, ["golden", "lava"], samples, say=_quiet)
        same = min(r["samples_identical"] for r in result["agreement"].values())
        rates = {k: r["sample_steps_per_second"] for k, r in result["runners"].items()}
        print(f"{name} on loihi2: golden == Lava on {same}/{samples} samples in every layer; sample-steps/s golden "
              f"{rates['golden']:.0f}, Lava {rates['lava']:.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/nd-trained-snn"))
    parser.add_argument("--lava-samples", type=int, default=5)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    digits_snn(args.work)
    hardware_trace()
    chips(args.work)
    golden_vs_lava(args.work, args.lava_samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
