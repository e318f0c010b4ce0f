"""The compile driver: the one place where front-end, pass stages, backend and report meet.

    model -> IR (front-end) -> 'canonicalize' passes -> 'rate' conversion passes -> backend passes
          -> backend.check -> evaluate ANN and SNN on the test split -> backend.estimate -> build folder

The build folder is written only when everything succeeded, and replaces an earlier build atomically
(neurodeploy.buildfolder), so a failed or killed compile leaves no partial output. Wall-clock timings go to
``timings.json``; every other file of two compiles of the same input is byte-identical.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from neurodeploy.buildfolder import check_output, report_json, staged_folder, write_build
from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage

DEFAULT_STEPS = 32  # lossless for the digits models on the reference simulator; a target may ask for more


@dataclass
class CompileRequest:
    """Everything ``neurodeploy compile`` was asked to do."""

    model: str
    output: Path
    target: str = "ref"
    definition: str | None = None
    input_shape: tuple[int, ...] | None = None
    dataset: str | None = None
    calibration_samples: int = 512
    eval_samples: int | None = None
    activity_samples: int = 8  # seeded inputs measuring the activity of a network that has no data set
    conversion: dict = field(default_factory=dict)  # ConversionConfig fields the user set explicitly
    snn_import: dict = field(default_factory=dict)  # how a NIR file's continuous time is read: dt, integration, reset

    def conversion_config(self, backend) -> ConversionConfig:
        """Defaults, then what the target needs, then what the user asked for."""
        return ConversionConfig(**{"num_steps": DEFAULT_STEPS, **backend.conversion_defaults(), **self.conversion})


class _Steps:
    """Numbered progress lines with timings, e.g. '[3/7] convert to SNN ... 0.41 s'."""

    def __init__(self, total: int, say: Callable[[str], None]) -> None:
        self.total, self.done, self.say, self.timings = total, 0, say, {}

    def run(self, label: str, fn: Callable, *args):
        self.done += 1
        start = time.perf_counter()
        result = fn(*args)
        self.timings[label] = round(time.perf_counter() - start, 3)
        self.say(f"[{self.done}/{self.total}] {label} ... {self.timings[label]:.2f} s")
        return result


def available_memory_bytes() -> int | None:
    """Memory the kernel says is available now (MemAvailable), or None where it does not say."""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    with_pages = [os.sysconf(k) if k in os.sysconf_names else -1 for k in ("SC_AVPHYS_PAGES", "SC_PAGE_SIZE")]
    return with_pages[0] * with_pages[1] if min(with_pages) > 0 else None


SPIKE_STATE_BYTES = 16  # per neuron and step while one sample runs: an 8-byte state and its spikes/current


def check_steps_fit(graph, num_steps: int, name: str) -> None:
    """Refuse a number of steps whose spike trains for a single sample would not fit in memory (the evaluation
    runs at least one sample at a time, holding every value for every step), saying how much it would need."""
    from neurodeploy.ir.check import infer_shapes

    values = sum(t.size for t in infer_shapes(graph.copy()).types.values())
    needed = values * num_steps * SPIKE_STATE_BYTES
    available = available_memory_bytes()
    if available is not None and needed > available:
        raise InputError(f"--steps {num_steps}: one sample of {name} at T={num_steps} needs about "
                         f"{needed / 2**30:.1f} GiB ({values} values x {num_steps} steps x {SPIKE_STATE_BYTES} bytes), "
                         f"more than the {available / 2**30:.1f} GiB of memory available; choose a smaller T")


def _require_ann(loaded) -> None:
    """Conversion starts from an ANN; a spiking or chip-level graph (a build's snn.onnx) is named as such."""
    from neurodeploy.ir.ops import OPS

    spiking = sorted({n.op for n in loaded.graph.nodes if OPS[n.op].kind != "ann" or OPS[n.op].domain})
    if spiking:
        raise UnsupportedError(f"{loaded.name} is already a spiking network (ops {', '.join(spiking)}); compile the ANN "
                               "it came from (a build's ann.onnx), or a lava-dl netx .net file for a chip")


def _import(request: CompileRequest, loaded=None, dataset=None):
    """The imported model and its data set, checked against each other. ``loaded`` / ``dataset``: a model and data
    the caller has already (the Python API's module in memory and arrays); otherwise they are read as requested."""
    from neurodeploy.data import fit_problems, load_dataset
    from neurodeploy.frontend import load_model

    loaded = loaded or load_model(request.model, request.definition, request.input_shape,
                                  request.conversion.get("num_steps"), request.snn_import)
    if len(loaded.graph.inputs) != 1:
        raise UnsupportedError(f"{loaded.name}: models with {len(loaded.graph.inputs)} inputs are not supported")
    if len(loaded.graph.outputs) != 1:
        raise UnsupportedError(f"{loaded.name}: models with {len(loaded.graph.outputs)} outputs are not supported "
                               f"({', '.join(loaded.graph.outputs)}); a classifier has one output of class scores")
    if loaded.deployed or loaded.spiking:
        return loaded, _spiking_dataset(loaded, request, dataset)
    _require_ann(loaded)
    dataset_name = request.dataset or loaded.dataset or (dataset.name if dataset is not None else None)
    if dataset_name is None:
        raise InputError(f"{request.model}: conversion needs a data set for calibration and accuracy; "
                         "give --dataset digits or --dataset FILE.npz")
    dataset = dataset or load_dataset(dataset_name)
    output = loaded.graph.outputs[0]
    scores = loaded.graph.types[output].shape  # the prediction is the argmax over the first axis
    if len(scores) != 1:
        raise UnsupportedError(f"{loaded.name}: output '{output}' has per-sample shape {list(scores)}; a classifier's "
                               "output holds one score per class (shape [classes])")
    (input_name, input_type), = loaded.graph.inputs.items()
    problems = fit_problems(dataset, input_name, input_type.shape, scores[0])
    if problems:
        raise InputError(f"{dataset_name}: does not fit model {loaded.name}:", problems)
    return loaded, dataset


def _spiking_dataset(loaded, request, given=None):
    """The data set of an SNN (trained directly, or netx), checked against its input: None when there is none
    (its activity is then measured on seeded inputs). Event data [N, T, ...] fit a spike input or replace an
    analog encoder; ``dataset.steps`` is T then."""
    from dataclasses import replace

    from neurodeploy.data import load_dataset, spike_fit

    name = request.dataset or loaded.dataset or (given.name if given is not None else None)
    if name is None:
        return None
    dataset = given or load_dataset(name)
    g = loaded.graph
    (input_name, input_type), = g.inputs.items()
    outputs = g.types[g.outputs[0]].shape if g.outputs[0] in g.types else ()
    steps, problems = spike_fit(dataset, input_name, input_type.shape, input_type.timed, outputs[-1] if outputs else 0)
    if len(outputs) != 1:
        problems.append(f"output '{g.outputs[0]}' has per-sample shape {list(outputs)}; a classifier's output holds "
                        "one score (or spike train) per class")
    if problems:
        raise InputError(f"{name}: does not fit model {loaded.name}:", problems)
    return replace(dataset, steps=steps)


def _require_spikes_for_chip(dataset, backend) -> None:
    """A chip takes event data only as 0/1 spikes; the reference takes any event counts."""
    from neurodeploy.data import binary_problems

    if dataset is None or dataset.steps is None or backend.name == "ref":
        return
    problems = binary_problems(dataset)
    if problems:
        raise InputError(f"{dataset.name}: its event trains cannot be fed to target '{backend.name}':", problems)


def _evaluate(graphs: dict, backend, dataset, request) -> dict:
    """Evaluate each named graph on the test split: the ANN and the float SNN with the reference
    interpreter, the deployed graph with the backend's simulator."""
    from neurodeploy.sim.evaluate import as_feed, evaluate

    n = request.eval_samples or len(dataset.x_test)
    x, y = dataset.x_test[:n], dataset.y_test[:n]
    results = {name: evaluate(g, as_feed(g, x), y) for name, g in graphs.items() if name != "deployed"}
    if "deployed" in graphs:
        g = graphs["deployed"]
        results["deployed"] = evaluate(g, as_feed(g, x), y, backend.simulate, backend.counters(g))
    return results


def _require_native_neurons(backend, snn, name: str, coding: str) -> None:
    problems = backend.coding_problems(snn)
    if problems:
        raise UnsupportedError(f"{name} as a {coding} SNN cannot run on target '{backend.name}' (the coding "
                               "comparison 'neurodeploy codings' still estimates its normalized energy there):",
                               problems)


def _require_deployable(backend, g, name: str) -> None:
    problems = backend.check(g)
    if problems:
        raise UnsupportedError(f"{name} cannot be deployed on target '{backend.name}':", problems)


def _report_files(report: dict) -> dict:
    from neurodeploy.report import render_markdown
    from neurodeploy.report.html import build_html

    return {"report.md": render_markdown(report), "report.html": build_html(report)}


def check_activity(float_snn, deployed) -> None:
    """A layer that spikes in the float SNN but is silent after the target's passes is an error."""
    dead = [f"{layer}: {before:.1f} spikes per sample before, 0 after" for layer, before in
            float_snn.spikes_per_layer.items() if before > 0 and deployed.spikes_per_layer.get(layer) == 0]
    if dead:
        raise UnsupportedError("quantization silenced these layers (their activity died):", dead)


ACTIVITY_CHANGE = 2.0  # a layer whose spikes change by more than this factor on the target is pointed out


def activity_warnings(float_snn, deployed, steady: bool = False) -> list[str]:
    """Layers whose activity on the target is far from the float SNN's (not silenced: check_activity refuses that),
    for the report: a sign that quantization lost (or added) much of what the layer carries.

    ``steady`` compares the target's last step with the float SNN's one pass: for a network of stateless layers
    that the chip runs to its steady state (a layer at depth d repeats the float pass at every step from d on; the
    steps before fill the pipeline with partial sums), docs/trevsnn.md."""
    rows, unit = [], "in the last step" if steady else "per sample"
    for layer, before in float_snn.spikes_per_layer.items():
        after = deployed.spikes_per_layer.get(layer)
        if after is None or before < 1.0:
            continue
        if steady and deployed.spikes_per_step.get(layer):
            after = deployed.spikes_per_step[layer][-1]
        if not 1 / ACTIVITY_CHANGE <= after / before <= ACTIVITY_CHANGE:
            rows.append(f"{layer}: {after:.1f} spikes {unit} on the target, {before:.1f} in the float SNN "
                        f"({after / before:.0%})")
    return rows


def compile_model(request: CompileRequest, say: Callable[[str], None] = print, imported: tuple | None = None) -> dict:
    """Run the whole pipeline for ``request`` and write its build folder; returns the report dict.

    ``imported`` is the (model, data set) that ``_import(request)`` gave, when a caller compiling one model for
    several targets has it already (passes never change the graphs they are given)."""
    from neurodeploy.backends import get_backend
    from neurodeploy.report import build_report

    check_output(request.output)
    backend = get_backend(request.target)
    conversion = request.conversion_config(backend)
    target_passes = backend.passes()
    steps = _Steps(0, say)

    def import_and_count_steps():
        loaded, dataset = imported or _import(request)  # the kind of model decides how many steps follow
        steps.total = 4 if loaded.deployed else (4 if loaded.spiking else 6) + bool(target_passes)
        return loaded, dataset

    loaded, dataset = steps.run(f"import {request.model}", import_and_count_steps)
    if loaded.deployed:
        return _compile_deployed(request, loaded, backend, steps, dataset)
    if loaded.spiking:
        return _compile_spiking(request, loaded, backend, steps, dataset)
    check_steps_fit(loaded.graph, conversion.num_steps, loaded.name)
    ctx = PassContext(conversion, calibration=dataset.x_train[: request.calibration_samples], spec=backend.spec,
                      training=(dataset.x_train, dataset.y_train))
    ann = steps.run("canonicalize (fold BatchNorm, ...)", run_passes, loaded.graph, stage("canonicalize"), ctx)
    per_layer = " per layer" if conversion.coding != "rate" else ""
    snn = steps.run(f"convert to {conversion.coding} SNN, T={conversion.num_steps}{per_layer}", run_passes, ann,
                    stage(conversion.coding), ctx)
    _require_native_neurons(backend, snn, loaded.name, conversion.coding)
    graphs = {"ann": ann, "snn": snn}
    if target_passes:
        names = ", ".join(p.__name__ for p in target_passes)
        graphs["deployed"] = steps.run(f"target passes ({request.target}: {names})", run_passes, snn,
                                       target_passes, ctx)
    deployed = graphs.get("deployed", snn)
    _require_deployable(backend, deployed, loaded.name)
    results = steps.run(f"evaluate on {dataset.name} test split", _evaluate, graphs, backend, dataset, request)
    results.setdefault("deployed", results["snn"])
    check_activity(results["snn"], results["deployed"])
    estimate = steps.run(f"estimate ({request.target})", backend.estimate, deployed, results["deployed"])
    report = build_report(loaded.name, request, conversion, backend.spec, graphs, results, estimate, dataset.name,
                          {"steps": steps.timings, "passes": ctx.timings})
    report["dataset_source"] = request.dataset or loaded.dataset
    report["activity_warnings"] = activity_warnings(results["snn"], results["deployed"])
    files = {"ann.onnx": ann, "snn.onnx": snn, **_report_files(report), "passes.log": "\n".join(ctx.log) + "\n"}
    if target_passes:
        files["deployed.onnx"] = deployed
    files.update(backend.artifacts(deployed, estimate))
    steps.run(f"write {request.output}", write_build, request.output, files, report, steps.say)
    return report


def _compile_deployed(request: CompileRequest, loaded, backend, steps: _Steps, dataset=None) -> dict:
    """A network already in a chip's arithmetic (netx): check, map and estimate; accuracy on the data set when one
    is given (event data set the number of steps), else activity from seeded inputs."""
    from neurodeploy.report import build_report

    g = loaded.graph
    _require_spikes_for_chip(dataset, backend)
    if dataset is not None and dataset.steps is not None:
        g.meta["num_steps"] = dataset.steps
    _require_deployable(backend, g, loaded.name)
    check_steps_fit(g, g.meta["num_steps"], loaded.name)
    activity, source = steps.run("evaluate" if dataset else f"activity on {request.activity_samples} seeded inputs",
                                 _activity, {"deployed": g}, backend, dataset, request)
    activity = activity["deployed"]
    estimate = steps.run(f"estimate ({request.target})", backend.estimate, g, activity)
    report = build_report(loaded.name, request, None, backend.spec, {"deployed": g}, {"deployed": activity},
                          estimate, source, {"steps": steps.timings})
    report["dataset_source"] = request.dataset
    files = {"deployed.onnx": g, **_report_files(report), **backend.artifacts(g, estimate)}
    steps.run(f"write {request.output}", write_build, request.output, files, report, steps.say)
    return report


def _activity(graphs: dict, backend, dataset, request) -> tuple[dict, str]:
    """Evaluations of the graphs on the test split, or their activity on seeded inputs without a data set; and what
    they ran on."""
    from neurodeploy.sim.evaluate import seeded_input
    from neurodeploy.sim.evaluate import evaluate

    if dataset is not None:
        return _evaluate(graphs, backend, dataset, request), dataset.name
    results = {}
    for name, g in graphs.items():
        simulate, counters = (backend.simulate, backend.counters(g)) if name == "deployed" else (None, None)
        results[name] = evaluate(g, seeded_input(g, request.activity_samples), None, simulate, counters)
    return results, f"seeded input ({request.activity_samples} samples)"


def _prepare_spiking(g, dataset, request: CompileRequest):
    """The trained SNN as it will run: after stage('export') (no inference-time Dropout/Identity; weight
    standardization, BatchNorm and per-channel scales folded into synapses, sums of currents flattened); with event
    data its
    analog encoder is dropped (the data are already spike trains); --steps sets an encoder's T. Returns the graph
    and T."""
    from neurodeploy.ir.check import infer_shapes
    from neurodeploy.ir.graph import TensorType
    from neurodeploy.passes import PassContext, run_passes, stage

    # a trained SNN's dropout (TimeDropout) is the identity at inference; weight standardization, per-channel
    # scales and sums of membrane values fold into synapses (papers/002's networks; docs/trevsnn.md)
    g = run_passes(g, stage("export"), PassContext())
    (input_name, input_type), = g.inputs.items()
    encoders = [n for n in g.consumers(input_name) if n.op in ("DirectEncode", "RateEncode")]
    events = dataset is not None and dataset.steps is not None
    if events and "num_steps" in request.conversion and request.conversion["num_steps"] != dataset.steps:
        raise InputError(f"--steps {request.conversion['num_steps']}: the event trains of {dataset.name} have "
                         f"T = {dataset.steps} steps, which set the number of steps (drop --steps)")
    if events and not encoders and g.find("DirectEncode", "RateEncode"):
        raise InputError(f"{dataset.name}: holds event trains, but the encoder of {g.name} does not read its input "
                         "directly, so it cannot be skipped; give samples without a time axis")
    if events and encoders:
        g.inputs[input_name] = TensorType(input_type.shape, input_type.dtype, timed=True)
        for encoder in encoders:
            g.remove(encoder)
        g.meta.setdefault("time", {}).setdefault("notes", []).append(
            f"encoder {', '.join(e.name for e in encoders)} skipped: the data set holds spike trains")
        encoders = []
    for encoder in encoders:
        if "num_steps" in request.conversion:
            encoder.attrs["num_steps"] = request.conversion["num_steps"]
    if dataset is not None and dataset.steps is not None:
        num_steps, source = dataset.steps, f"the event trains of {dataset.name}"
    elif encoders:
        num_steps, source = int(encoders[0].attrs["num_steps"]), f"encoder {encoders[0].name}"
    elif "num_steps" in request.conversion:
        num_steps, source = int(request.conversion["num_steps"]), "--steps"
    else:  # seeded spike trains: what the front-end proposes (NIR: its default), else ours
        num_steps, source = int(g.meta.get("num_steps", DEFAULT_STEPS)), "the default for seeded inputs"
    g.meta["num_steps"] = num_steps
    g.meta.setdefault("time", {})["num_steps_source"] = source
    return infer_shapes(g), num_steps


def _calibration(g, dataset, request: CompileRequest):
    """Samples (sample axis first) whose float-SNN run sets the per-layer ranges of quantization."""
    import numpy as np

    from neurodeploy.sim.evaluate import seeded_input

    if dataset is not None:
        return dataset.x_train[: request.calibration_samples]
    x = seeded_input(g, min(request.calibration_samples, 64))
    return np.moveaxis(x, 1, 0) if next(iter(g.inputs.values())).timed else x


def _compile_spiking(request: CompileRequest, loaded, backend, steps: _Steps, dataset) -> dict:
    """A float SNN trained directly (neurodeploy.nn, NIR): no conversion; the target's passes quantize it, and the
    float SNN and the deployed one are evaluated on the same data (or seeded spikes)."""
    from neurodeploy.report import build_report

    ignored = sorted(set(request.conversion) - {"num_steps"})
    if ignored:
        raise InputError(f"{loaded.name} is a trained SNN: nothing is converted, so these options would be ignored: "
                         + ", ".join(f"--{k.replace('_', '-')}" for k in ignored))
    _require_spikes_for_chip(dataset, backend)
    snn, num_steps = _prepare_spiking(loaded.graph, dataset, request)
    check_steps_fit(snn, num_steps, loaded.name)
    ctx = PassContext(ConversionConfig(num_steps=num_steps), calibration=_calibration(snn, dataset, request),
                      spec=backend.spec)
    graphs = {"snn": snn}
    if backend.passes():
        names = ", ".join(p.__name__ for p in backend.passes())
        graphs["deployed"] = steps.run(f"target passes ({request.target}: {names})", run_passes, snn,
                                       backend.passes(), ctx)
    deployed = graphs.get("deployed", snn)
    _require_deployable(backend, deployed, loaded.name)
    label = f"evaluate on {dataset.name} test split" if dataset else f"activity on {request.activity_samples} seeded inputs"
    results, source = steps.run(label, _activity, graphs, backend, dataset, request)
    results.setdefault("deployed", results["snn"])
    check_activity(results["snn"], results["deployed"])
    estimate = steps.run(f"estimate ({request.target})", backend.estimate, deployed, results["deployed"])
    report = build_report(loaded.name, request, None, backend.spec, graphs, results, estimate, source,
                          {"steps": steps.timings, "passes": ctx.timings})
    report["dataset_source"] = request.dataset or loaded.dataset
    steady = bool(deployed.meta.get("steady_state")) and num_steps == 1
    report["activity_warnings"] = activity_warnings(results["snn"], results["deployed"], steady)
    report["time_semantics"] = dict(snn.meta.get("time", {}), num_steps=num_steps)
    files = _spiking_files(graphs, report, ctx, backend, estimate)
    steps.run(f"write {request.output}", write_build, request.output, files, report, steps.say)
    return report


def _spiking_files(graphs: dict, report: dict, ctx, backend, estimate) -> dict:
    """The build of a trained SNN: its float SNN (also as NIR), the deployed graph, the report and the target's files;
    what NIR cannot say about the float SNN goes into ``report['snn_nir']``."""
    files = {"snn.onnx": graphs["snn"], "passes.log": "\n".join(ctx.log) + "\n"}
    nir_file, notes = _nir_export(graphs["snn"])
    report["snn_nir"] = {"file": "snn.nir" if nir_file else None, "notes": notes}
    if nir_file:
        files["snn.nir"] = nir_file
    files.update(_report_files(report))
    deployed = graphs.get("deployed", graphs["snn"])
    if "deployed" in graphs:
        files["deployed.onnx"] = deployed
    files.update(backend.artifacts(deployed, estimate))
    return files


def _nir_export(snn) -> tuple[object | None, list[str]]:
    """The float SNN as a NIR file (a writer called with the path), and what NIR cannot say about it."""
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.frontend.nir_export import nir_writer

    dt = snn.meta.get("time", {}).get("dt")
    try:
        return nir_writer(snn, dt)
    except NeurodeployError as e:
        return None, [f"no snn.nir: {e.headline}"] + e.problems


def request_dict(request: CompileRequest) -> dict:
    """The request as reports record it: without the output path, so that a build's files do not depend on where
    it was written (two compiles of one input are byte-identical wherever they go)."""
    d = asdict(request)
    del d["output"]
    return d


def compile_all(request: CompileRequest, say: Callable[[str], None] = print, imported: tuple | None = None) -> dict:
    """Compile for every registered target into OUTPUT/<target>/ and write OUTPUT/report.json with one row per chip.

    A target that cannot take the model gets a row with its error instead of figures (``failed_targets`` lists
    them); the folder appears only when every target has been tried.
    """
    from dataclasses import replace

    from neurodeploy.backends import BACKENDS
    from neurodeploy.buildfolder import file_hashes
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.report.html import targets_html
    from neurodeploy.report.targets import render_targets_markdown, summary_report

    check_output(request.output)
    from neurodeploy.progress import bar

    imported = imported or _import(request)  # a model or data that cannot be read fails alike on every target: once
    reports: dict[str, dict | str] = {}
    with staged_folder(request.output, say) as tmp, bar(len(BACKENDS), "targets", unit="target") as progress:
        for target in BACKENDS:
            say(f"== {target}")
            progress.set_postfix_str(target)
            try:
                reports[target] = compile_model(replace(request, target=target, output=tmp / target), say, imported)
            except NeurodeployError as e:
                reports[target] = "\n".join([e.headline] + [f"    - {p}" for p in e.problems])
                say(f"{target}: refused (the reason is listed at the end)")
            progress.update()
        failed = [t for t, r in reports.items() if isinstance(r, str)]
        if len(failed) == len(reports):  # nothing to show: keep whatever the path held, say why once per reason
            raise UnsupportedError(f"{request.model}: no target can take it", _grouped_errors(reports))
        summary = summary_report(request, reports)
        summary["failed_targets"] = failed
        (tmp / "report.md").write_text(render_targets_markdown(summary))
        (tmp / "report.html").write_text(targets_html(summary, reports))
        summary["files"] = file_hashes(tmp)
        (tmp / "report.json").write_text(report_json(summary))
    return summary


def _grouped_errors(errors: dict[str, str]) -> list[str]:
    """One line per distinct error, naming the targets that gave it (an input error is the same on all)."""
    by_text: dict[str, list[str]] = {}
    for target, text in errors.items():
        by_text.setdefault(text, []).append(target)
    return [f"{', '.join(targets)}: {text}" for text, targets in by_text.items()]
