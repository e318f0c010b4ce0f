"""``neurodeploy run``: run a compiled Loihi build on test samples with the golden simulator and/or Lava.

Prints accuracy and spikes per layer for each, and when both ran, per-sample agreement of every layer's spikes
at every step; writes a JSON with per-sample labels, predictions, readouts and spike counts.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neurodeploy.errors import InputError
from neurodeploy.limits import MAX_STEPS

RUNNERS = ("golden", "lava", "sanafe")
CHOICES = {"golden": ["golden"], "lava": ["lava"], "both": ["golden", "lava"], "sanafe": ["golden", "sanafe"]}


def _load_build(build: Path):
    """The checked report and deployed graph of a Loihi build; refuses damaged, mixed or non-Loihi builds."""
    from neurodeploy.backends import get_backend
    from neurodeploy.buildfolder import verify_files
    from neurodeploy.frontend.onnx_import import load_onnx
    from neurodeploy.report.schema import load_build_report

    report = load_build_report(build)
    if "targets" in report or "rows" in report:
        raise InputError(f"{build}: holds one build per target or coding; run one of its sub-folders")
    target = report["target"]
    if not target.startswith("loihi"):
        raise InputError(f"{build}: target '{target}' has no Loihi graph to run (compile with --target loihi2 or "
                         "loihi1)")
    verify_files(build, report, needed=("deployed.onnx",))
    g = load_onnx(build / "deployed.onnx")
    problems = get_backend(target).check(g)
    steps = g.meta.get("num_steps")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        problems.append(f"its metadata gives no number of steps in 1..{MAX_STEPS} (num_steps = {steps!r})")
    if problems:
        raise InputError(f"{build / 'deployed.onnx'}: not a graph that target '{target}' runs:", problems)
    return report, g


def check_results_path(out: Path) -> None:
    """Refuse a results file that cannot be written, before the run starts."""
    from neurodeploy.buildfolder import results_path_problems

    problems = results_path_problems(out)
    if problems:
        raise InputError(f"cannot write the run results to {out}:", problems)


def write_results(out: Path, result: dict) -> None:
    """Write the results JSON whole or not at all."""
    from neurodeploy.buildfolder import report_json, write_file

    write_file(out, report_json(result))


SPIKING = ("LoihiLIF", "LoihiTTFS")
READOUTS = ("LoihiVoltageReadout", "LoihiTTFSReadout")


def _trains(g) -> dict[str, list[str]]:
    """Layer name -> its recorded values: spike trains (two for SC-TTFS layers), or the readout voltage."""
    from neurodeploy.sim.evaluate import spike_outputs

    return {n.name: spike_outputs(n) if n.op in SPIKING else [n.outputs[0]] for n in g.find(*SPIKING, *READOUTS)}


def _run_one(runner: str, g, x: np.ndarray, target: str) -> tuple[dict, float, dict | None]:
    """Outputs of one runner, its wall time, and (SANA-FE) its own energy and time per sample."""
    from neurodeploy.ir import reference

    trains = _trains(g)
    keep = [v for n in g.find(*SPIKING) for v in trains[n.name]]
    start = time.perf_counter()
    extra = None
    if runner == "golden":
        out = reference.run(g, {next(iter(g.inputs)): x}, keep)
    elif runner == "lava":
        from neurodeploy.backends.loihi.lava_run import run_lava

        out = run_lava(g, x)
    else:
        from neurodeploy.backends import get_backend
        from neurodeploy.backends.loihi.sanafe_run import run_sanafe

        extra = run_sanafe(g, get_backend(target).spec, x)
        out = extra.pop("outputs")
    return out, time.perf_counter() - start, extra


def agreement(g, a: dict, b: dict) -> dict[str, dict]:
    """Per layer: samples whose spikes (or readout voltages) agree at every step, and the differing entries."""
    rows = {}
    for layer, values in _trains(g).items():
        per_value = []
        for value in values:
            sample_axis = 1 if g.types[value].timed else 0  # spikes [T, N, ...]; readouts [N, ...]
            differs = np.moveaxis(a[value] != b[value], sample_axis, 0)
            per_value.append(differs.reshape(differs.shape[0], -1))
        differs = np.concatenate(per_value, axis=1)
        rows[layer] = {"samples_identical": int((~differs.any(axis=1)).sum()), "samples": differs.shape[0],
                           "differing_entries": int(differs.sum())}
    return rows


def run_build(build: Path, runners: list[str], samples: int, say=print, sanafe_network: Path | None = None) -> dict:
    """Run ``samples`` test samples of the build's data set through each runner; returns the result dict. With SANA-FE
    among them, the result also holds its energy and latency beside neurodeploy's estimate for the same samples
    (``sanafe_check``), and ``sanafe_network`` (a path) receives the SANA-FE network file."""
    from neurodeploy.data import fit_problems, load_dataset, spike_fit
    from neurodeploy.sim.evaluate import as_feed

    report, g = _load_build(build)
    (input_name, input_type), = g.inputs.items()
    timed = input_type.timed
    source = report.get("dataset_source")
    if source is not None and not isinstance(source, str):
        raise InputError(f"{build / 'report.json'}: dataset_source is {source!r}, not a data set name or path")
    if source:
        data = load_dataset(source)
        classes = g.types[g.outputs[0]].size
        problems = spike_fit(data, input_name, input_type.shape, True, classes)[1] if timed else \
            fit_problems(data, input_name, input_type.shape, classes)
        if problems:
            raise InputError(f"{source}: no longer fits the build (has the data set changed?):", problems)
        x, y = as_feed(g, data.x_test[:samples]), data.y_test[:samples]
    else:  # a network imported without data (netx): the same seeded inputs as its compile report used
        from neurodeploy.sim.evaluate import seeded_input

        x, y = seeded_input(g, samples), None
    count = x.shape[1] if timed else len(x)
    readout = g.outputs[0]
    from neurodeploy.report.schema import versioned

    result = {**versioned("run"), "build": str(build), "target": report["target"], "samples": count,
              "steps": g.meta["num_steps"],
              "runners": {}, "per_sample": [{"label": None if y is None else int(y[i])} for i in range(count)]}
    trains = _trains(g)
    outputs = {}
    if "sanafe" in runners:  # refuse what SANA-FE cannot run before any simulation starts
        from neurodeploy.backends import get_backend
        from neurodeploy.backends.loihi.sanafe_run import check_runnable, require_sanafe

        check_runnable(g, get_backend(report["target"]).spec)
        require_sanafe()
    for runner in runners:
        say(f"running {count} samples x {g.meta['num_steps']} steps on {runner} ...")
        out, seconds, extra = _run_one(runner, g, x, report["target"])
        outputs[runner] = out
        if extra is not None:
            from neurodeploy.sanafe_check import crosscheck

            result["sanafe"] = crosscheck(g, report["target"], x, y, extra, sanafe_network)
        scores = out[readout].sum(axis=0) if g.types[readout].timed else out[readout]  # spikes: counts
        predictions = scores.reshape(count, -1).argmax(axis=1)
        spikes = {n.name: sum(out[v].reshape(out[v].shape[0], count, -1).sum(axis=(0, 2)) for v in trains[n.name])
                  for n in g.find(*SPIKING)}
        result["runners"][runner] = {
            "accuracy": None if y is None else float((predictions == y).mean()), "seconds": seconds,
            "sample_steps_per_second": count * g.meta["num_steps"] / max(seconds, 1e-9),
            "spikes_per_layer": {k: float(v.mean()) for k, v in spikes.items()}}
        for i, row in enumerate(result["per_sample"]):
            row[runner] = {"prediction": int(predictions[i]), "readout": scores[i].tolist(),
                           "spike_counts": {k: int(v[i]) for k, v in spikes.items()}}
    if len(outputs) == 2:
        other = runners[1]
        result["compared"] = other
        result["agreement"] = agreement(g, outputs["golden"], outputs[other])
    return result


def render_run(result: dict) -> str:
    from neurodeploy.report import text_table

    lines = [f"{result['build']} on {result['target']}: {result['samples']} samples x {result['steps']} steps"]
    for runner, r in result["runners"].items():
        accuracy = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f} %"
        lines.append(f"  {runner:6s} accuracy {accuracy}   {r['seconds']:.2f} s "
                     f"({r['sample_steps_per_second']:.0f} sample-steps/s)")
    layers = list(next(iter(result["runners"].values()))["spikes_per_layer"])
    rows = [[layer] + [result["runners"][k]["spikes_per_layer"][layer] for k in result["runners"]] for layer in layers]
    lines.append("\nspikes per sample\n" + text_table(["layer"] + list(result["runners"]), rows))
    if "agreement" in result:
        agree = [[k, f"{v['samples_identical']}/{v['samples']}", v["differing_entries"]]
                 for k, v in result["agreement"].items()]
        other = result.get("compared", "lava")
        lines.append(f"\ngolden vs {other}, every step\n" + text_table(("layer", "identical samples", "differing"), agree))
    if "sanafe" in result:
        from neurodeploy.sanafe_check import render_crosscheck

        lines.append("\n" + render_crosscheck(result["sanafe"]))
    return "\n".join(lines)
