"""``neurodeploy benchmark``: papers/000's study of six models on frames and events, each as MLP and CNN, with
its memory and compute metrics, every model deployed on every chip, and the trade-off sweeps over T and the
firing threshold (docs/benchmark.md).

    train (or load cached) models -> compile each for every target (``compile --target all``, cached)
        -> one row per model: accuracy, papers/000 memory and compute, NeuroBench operations, per-chip figures
        -> sweeps of the converted SNN (converted at each T) and the directly trained SNN (trained at each T and
           threshold) on the reference simulator
        -> OUTPUT/benchmark.json and OUTPUT/benchmark.md

Everything slow is cached under ``cache_dir()/benchmark`` keyed by what it depends on: a checkpoint by its
model's recipe (the source of neurodeploy.models), a compile by the checkpoint's bytes, neurodeploy's own source
and the options, so a second run only reads results (a change of code or options recomputes what it touches).
Models train and compile in ``jobs`` worker processes (one torch thread each).
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from concurrent.futures import as_completed

from neurodeploy.errors import InputError, NeurodeployError


@dataclass(frozen=True)
class StudyModel:
    """One row of papers/000's Fig. 5 study: model number, what it is, its workload and architecture, the zoo
    entry it is built from and how it is judged ('ann': the ANN itself; 'converted': the rate-converted SNN of
    that ANN; 'snn': an SNN trained directly)."""

    number: int
    label: str
    workload: str
    architecture: str
    zoo: str
    kind: str


def _study() -> tuple[StudyModel, ...]:
    rows = []
    for arch, suffix in (("MLP", "mlp"), ("CNN", "cnn")):
        rows += [
            StudyModel(1, "ANN", "frames", arch, f"digits_{suffix}", "ann"),
            StudyModel(2, "converted SNN (rate, IF)", "frames", arch, f"digits_{suffix}", "converted"),
            StudyModel(3, "SNN trained directly (STBP) on spike-encoded frames", "frames", arch,
                       f"bench_snn_frames_{suffix}", "snn"),
            StudyModel(4, "ANN on binary images of the events", "events", arch, f"bench_ann_binary_{suffix}", "ann"),
            StudyModel(5, "ANN on intensity images of the events", "events", arch, f"bench_ann_intensity_{suffix}",
                       "ann"),
            StudyModel(6, "SNN trained directly (STBP) on the events", "events", arch, f"bench_snn_events_{suffix}",
                       "snn"),
        ]
    return tuple(sorted(rows, key=lambda r: (r.number, r.architecture != "MLP")))


STUDY = _study()
SWEEP_STEPS = (4, 8, 16, 32, 64)
SWEEP_THRESHOLDS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # factors on every neuron's threshold
SWEEP_MODELS = {"converted": "digits_mlp", "trained": "bench_snn_frames_mlp"}
SWEEP_DATASET = "digits"  # analog frames: the trained SNN's own encoder makes its spikes at each swept T
CONVERTED_SWEEP_STEPS = 32  # T of the converted SNN's threshold sweep (compile's default)


@dataclass
class BenchmarkRequest:
    """What ``neurodeploy benchmark`` was asked to do."""

    output: Path
    retrain: bool = False  # train every model again even when a cached checkpoint exists
    eval_samples: int | None = None  # test samples per evaluation (default: the whole test split)
    jobs: int = 2  # worker processes
    targets: tuple[str, ...] = field(default_factory=tuple)  # empty = every registered target
    sweeps: bool = True


# ------------------------------------------------------------------ cache keys


# what renders or drives the study rather than computes a compile: changing them keeps the cached compiles
NOT_COMPILE_CODE = ("benchmark.py", "cli.py", "report/benchmark.py")


def _tree_hash(*packages: str, suffixes=(".py", ".yaml"), exclude: tuple[str, ...] = ()) -> str:
    """SHA-256 over the source files of ``packages`` (their paths and bytes), but the relative paths ``exclude``."""
    import importlib

    digest = hashlib.sha256()
    for name in packages:
        root = Path(importlib.import_module(name).__file__).parent
        for path in sorted(p for p in root.rglob("*") if p.suffix in suffixes and "__pycache__" not in p.parts):
            relative = path.relative_to(root).as_posix()
            if relative not in exclude:
                digest.update(relative.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)  # read once per run: the checkpoints and the sweep variants both need it
def recipe_hash() -> str:
    """What a trained checkpoint depends on: the model definitions and recipes, the spiking layers, the data sets
    and their conversions, and torch's version."""
    import importlib

    import torch

    digest = hashlib.sha256(_tree_hash("neurodeploy.models", suffixes=(".py",)).encode())
    for name in ("neurodeploy.nn", "neurodeploy.data", "neurodeploy.signals", "neurodeploy.events"):
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    digest.update(torch.__version__.encode())
    return digest.hexdigest()


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def benchmark_cache() -> Path:
    from neurodeploy.data import cache_dir

    return cache_dir() / "benchmark"


# ------------------------------------------------------------------ workers (top-level: picklable)


def train_model(name: str, path: str) -> dict:
    """Train zoo model ``name`` with its recipe and save the state dict at ``path`` (atomically)."""
    import torch

    from neurodeploy.models.train_digits import train

    torch.set_num_threads(1)
    start = time.perf_counter()
    model, accuracy = train(name)
    tmp = Path(path).with_suffix(".partial")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)
    return {"model": name, "float_test_accuracy": accuracy, "train_s": round(time.perf_counter() - start, 1)}


def compile_model_everywhere(zoo: str, checkpoint: str, output: str, eval_samples: int | None,
                             targets: tuple[str, ...], cache: str | None = None) -> dict:
    """``compile --target all`` of one checkpoint into ``output``; returns the per-target reports (and writes them
    to ``cache`` atomically when given)."""
    import torch

    from neurodeploy.pipeline import CompileRequest, compile_all, compile_model

    torch.set_num_threads(1)
    start = time.perf_counter()
    request = CompileRequest(model=checkpoint, output=Path(output), definition=zoo, eval_samples=eval_samples,
                             target="all")
    if targets:  # a chosen subset: one compile per target, errors kept as text like compile_all does
        reports = {}
        for target in targets:
            try:
                reports[target] = compile_model(
                    CompileRequest(**{**asdict(request), "target": target, "output": Path(output) / target}),
                    say=lambda s: None)
            except NeurodeployError as e:
                reports[target] = "\n".join([e.headline] + [f"    - {p}" for p in e.problems])
    else:
        compile_all(request, say=lambda s: None)
        reports = _read_reports(Path(output))
    result = {"reports": reports, "compile_s": round(time.perf_counter() - start, 1)}
    if cache:
        tmp = Path(cache).with_suffix(".partial")
        tmp.write_text(json.dumps(result, default=str, allow_nan=False))
        tmp.replace(cache)
    return result


def _read_reports(folder: Path) -> dict:
    from neurodeploy.backends import BACKENDS

    summary = json.loads((folder / "report.json").read_text())
    reports = {}
    for row in summary["targets"]:
        target = row["target"]
        reports[target] = row["error"] if "error" in row else json.loads((folder / target / "report.json").read_text())
    return {t: reports[t] for t in BACKENDS if t in reports}


# ------------------------------------------------------------------ the study


def _checkpoints(request: BenchmarkRequest, pool, say) -> tuple[dict, dict]:
    """A checkpoint per zoo model of the study and sweeps: cached, or trained now (in parallel)."""
    from neurodeploy.models import ZOO

    names = list(dict.fromkeys([m.zoo for m in STUDY] + list(SWEEP_MODELS.values())))
    missing = [n for n in names if n not in ZOO]
    if missing:
        raise InputError("the benchmark's models are not in the zoo", missing)
    recipe = recipe_hash()
    folder = benchmark_cache() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {n: folder / f"{n}-{_key(n, recipe)}.pt" for n in names}
    todo = [n for n in names if request.retrain or not paths[n].is_file()]
    trained = {}
    if todo:
        say(f"training {len(todo)} model(s): {', '.join(todo)}")
        for future in as_completed([pool.submit(train_model, n, str(paths[n])) for n in todo]):
            result = future.result()  # each worker saved its checkpoint: a later failure keeps it
            trained[result["model"]] = result
            say(f"  {result['model']}: test accuracy {100 * result['float_test_accuracy']:.2f} % in "
                f"{result['train_s']} s")
    return paths, trained


def _builds(paths: dict, request: BenchmarkRequest, pool, say) -> dict:
    """Per zoo model of the study, the per-target reports: cached, or compiled now (in parallel)."""
    code = _tree_hash("neurodeploy", "neurodeploy.backends", "neurodeploy.models", exclude=NOT_COMPILE_CODE)
    options = json.dumps({"eval_samples": request.eval_samples, "targets": list(request.targets)}, sort_keys=True)
    builds, futures = {}, {}
    for zoo in dict.fromkeys(m.zoo for m in STUDY):
        weights = hashlib.sha256(paths[zoo].read_bytes()).hexdigest()
        folder = benchmark_cache() / "builds" / f"{zoo}-{_key(zoo, weights, code, options)}"
        folder.mkdir(parents=True, exist_ok=True)
        cached = _cached_reports(folder / "reports.json", say)
        if cached is not None:
            builds[zoo] = cached
        else:
            futures[pool.submit(compile_model_everywhere, zoo, str(paths[zoo]), str(folder / "build"),
                                request.eval_samples, request.targets, str(folder / "reports.json"))] = zoo
    if futures:
        say(f"compiling {len(futures)} model(s) for every target: {', '.join(futures.values())}")
    for future in as_completed(futures):
        zoo = futures[future]
        builds[zoo] = future.result()  # the worker cached it: a later failure keeps it
        say(f"  {zoo}: {builds[zoo]['compile_s']} s")
    return builds


def _cached_reports(path: Path, say) -> dict | None:
    """A cached compile result, or None when there is none or it cannot be read (then it is compiled again)."""
    if not path.is_file():
        return None
    try:
        cached = json.loads(path.read_text())
        if isinstance(cached, dict) and isinstance(cached.get("reports"), dict) and "ref" in cached["reports"]:
            return cached
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    say(f"  {path}: unreadable cached result, compiling again")
    return None


def _metric_row(metrics: dict) -> dict:
    memory, compute, activity = metrics["memory"], metrics["compute"], metrics["activity"]
    return {
        "memory_bits": {k: memory.get(k) for k in ("Mw_bits", "Ma_bits", "Mp_bits", "Ms_bits", "M_bits")},
        "compute": {"Cmul": compute["Cmul"], "Cadd": compute["Cadd"]},
        "neurobench": {"effective_macs": compute["effective_macs"], "effective_acs": compute["effective_acs"],
                       "dense": compute["dense"], "activation_sparsity": activity.get("activation_sparsity"),
                       "connection_sparsity": activity.get("connection_sparsity"),
                       "footprint_bytes": activity.get("footprint_bytes")},
        "spikes_per_inference": activity.get("spikes_per_inference"),
        "spikes_per_layer": activity.get("spikes_per_layer"),
        "operation_energy_pj": (metrics.get("operation_energy") or {}).get("energy_pj"),
    }


def _chip_cell(report) -> dict:
    if isinstance(report, str):
        return {"error": report}
    estimate = report["estimate"]
    return {"accuracy": report["deployed"]["accuracy"], "energy_uj": estimate.get("energy_uj"),
            "energy_range_uj": estimate.get("energy_range_uj"), "latency_us": estimate.get("latency_us"),
            "cores": estimate.get("cores"),
            "steps": report["deployed"]["steps"], "memory_bits": report["metrics"]["deployed"]["memory"]["M_bits"]}


def _study_row(model: StudyModel, build: dict) -> dict:
    reports = build["reports"]
    ref = reports.get("ref")
    if isinstance(ref, str) or ref is None:
        raise InputError(f"benchmark model {model.zoo}: the reference build failed", [str(ref)])
    judged = "ann" if model.kind == "ann" else "snn"
    accuracy = ref[judged]["accuracy"]
    row = {"number": model.number, "label": model.label, "workload": model.workload,
           "architecture": model.architecture, "zoo": model.zoo, "dataset": ref["dataset"],
           "accuracy": accuracy, **_metric_row(ref["metrics"][judged])}
    if model.kind == "ann" and model.number == 1:
        row["chips"] = {}
        row["chips_note"] = "an ANN runs on these chips once converted: model 2"
    else:
        row["chips"] = {t: _chip_cell(r) for t, r in reports.items() if t != "ref"}
        if model.kind == "ann":
            row["chips_note"] = "deployed as its rate-converted SNN"
    return row


def _stop(pool) -> None:
    """Cancel what has not started and end the worker processes without waiting for what runs (their results
    would be thrown away; finished ones are already cached)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def run_benchmark(request: BenchmarkRequest, say: Callable[[str], None] = print) -> dict:
    """The whole study; writes OUTPUT/benchmark.json and benchmark.md atomically and returns the report."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from neurodeploy.buildfolder import BENCHMARK_MARKER, check_output, file_hashes, report_json, staged_folder
    from neurodeploy.report import operation_costs
    from neurodeploy.report.benchmark import render_benchmark_markdown
    from neurodeploy.report.html import benchmark_html

    check_output(request.output)
    start = time.perf_counter()
    start_method = multiprocessing.get_start_method(allow_none=True)
    pool = ProcessPoolExecutor(max(1, request.jobs), mp_context=multiprocessing.get_context("spawn"))
    try:
        paths, trained = _checkpoints(request, pool, say)
        builds = _builds(paths, request, pool, say)
        sweeps = trade_off_sweeps(paths, request, pool, say) if request.sweeps else None
    except BaseException:  # an error, Ctrl-C or SIGTERM: drop the queued work and stop the workers now
        _stop(pool)
        raise
    finally:  # starting spawn workers fixes the process's default start method; lava (imported later) sets its own
        multiprocessing.set_start_method(start_method, force=True)
    pool.shutdown()
    rows = [_study_row(m, builds[m.zoo]) for m in STUDY]
    from neurodeploy.report.schema import versioned

    report = {**versioned("benchmark"), "study": "papers/000 Fig. 5 (six models x MLP/CNN) on the digits",
              "rows": rows, "sweeps": sweeps, "trained_now": trained, "operation_costs": operation_costs(),
              "request": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(request).items()
                          if k != "output"},
              "definitions": "docs/metrics.md", "wall_s": round(time.perf_counter() - start, 1)}
    with staged_folder(request.output, say) as tmp:
        (tmp / "benchmark.md").write_text(render_benchmark_markdown(report))
        (tmp / "report.html").write_text(benchmark_html(report))
        report["files"] = file_hashes(tmp)
        (tmp / BENCHMARK_MARKER).write_text(report_json(report))
    return report


# ------------------------------------------------------------------ trade-off sweeps (papers/000 Fig. 13)


def scale_thresholds(g, factor: float):
    """A copy of ``g`` with every IF/LIF threshold multiplied by ``factor``."""
    g = g.copy()
    for node in g.find("IF", "LIF"):
        node.attrs["v_th"] = float(node.attrs.get("v_th", 1.0)) * factor
    return g


def _sweep_point(g, x, y, **settings) -> dict:
    from neurodeploy.metrics import network_metrics
    from neurodeploy.sim.evaluate import as_feed, evaluate

    result = evaluate(g, as_feed(g, x), y)
    metrics = network_metrics(g, result)
    ops = metrics["compute"]
    return {**settings, "accuracy": result.accuracy, "Cadd": ops["Cadd"], "Cmul": ops["Cmul"],
            "spikes_per_inference": metrics["activity"]["spikes_per_inference"]}  # the neurons', as the table


def _converted(graph, dataset, steps: int):
    from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage

    ctx = PassContext(ConversionConfig(num_steps=steps), calibration=dataset.x_train[:512])
    return run_passes(graph, stage("canonicalize") + stage("rate"), ctx)


def _with_steps(graph, steps: int):
    from neurodeploy.ir.check import infer_shapes

    g = graph.copy()
    for node in g.find("DirectEncode", "RateEncode"):
        node.attrs["num_steps"] = steps
    g.meta["num_steps"] = steps
    return infer_shapes(g)


def train_variant(name: str, steps: int, factor: float, path: str) -> dict:
    """Train zoo model ``name`` with its recipe at T = ``steps`` and every threshold times ``factor`` (the
    rectangular surrogate's window scaled alike), as papers/000 trains at each setting of its sweeps; saves the
    state dict at ``path`` (atomically)."""
    from dataclasses import replace

    import torch

    from neurodeploy.models.benchmark import TRAINING, build_for_training
    from neurodeploy.models.recipes import RECIPES
    from neurodeploy.nn import ENCODERS, NEURONS

    torch.set_num_threads(1)
    plan = TRAINING[name]
    torch.manual_seed(plan.options.seed)
    model = build_for_training(name)
    for module in model.modules():
        if isinstance(module, ENCODERS):
            module.num_steps = steps
        if isinstance(module, NEURONS):
            module.threshold *= factor
    width = plan.options.surrogate_width
    options = replace(plan.options, surrogate_width=None if width is None else width * factor)
    start = time.perf_counter()
    model, metrics = RECIPES[plan.recipe](model, plan.dataset, plan.epochs, options)
    tmp = Path(path).with_suffix(".partial")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)
    return {"T": steps, "threshold_factor": factor, "float_test_accuracy": metrics["test_accuracy"],
            "train_s": round(time.perf_counter() - start, 1)}


def _trained_variants(zoo: str, settings: list[tuple[int, float]], request: BenchmarkRequest, pool, say) -> dict:
    """(T, factor) -> checkpoint of ``zoo`` retrained at that setting: cached, or trained now (in parallel)."""
    recipe = recipe_hash()
    folder = benchmark_cache() / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {(t, f): folder / f"{zoo}-T{t}-x{f:g}-{_key(zoo, recipe, str(t), repr(f))}.pt" for t, f in settings}
    todo = [k for k, p in paths.items() if request.retrain or not p.is_file()]
    if todo:
        say(f"training {zoo} at {len(todo)} sweep setting(s) (T, threshold factor)")
        for future in as_completed([pool.submit(train_variant, zoo, t, f, str(paths[(t, f)])) for t, f in todo]):
            future.result()
    return paths


def trade_off_sweeps(paths: dict, request: BenchmarkRequest, pool, say: Callable[[str], None] = print) -> dict:
    """Accuracy vs compute over T and over the threshold factor on the reference simulator (papers/000 Fig. 13):
    the converted SNN (digits_mlp) converted again at each T, its thresholds scaled after conversion; the SNN
    trained directly on spike-encoded frames trained again at each T and each threshold, as papers/000 does.
    ``findings`` says whether papers/000's directions hold."""
    from neurodeploy.data import load_dataset
    from neurodeploy.frontend import load_model

    dataset = load_dataset(SWEEP_DATASET)
    n = request.eval_samples or len(dataset.x_test)
    x, y = dataset.x_test[:n], dataset.y_test[:n]
    out = {}
    for kind, zoo in SWEEP_MODELS.items():
        say(f"sweeps of the {kind} SNN ({zoo})")
        if kind == "converted":
            graph = load_model(str(paths[zoo]), zoo).graph
            by_steps = [_sweep_point(_converted(graph, dataset, t), x, y, T=t, threshold_factor=1.0)
                        for t in SWEEP_STEPS]
            base = _converted(graph, dataset, CONVERTED_SWEEP_STEPS)
            by_threshold = [_sweep_point(scale_thresholds(base, f), x, y, T=CONVERTED_SWEEP_STEPS, threshold_factor=f)
                            for f in SWEEP_THRESHOLDS]
            how = "thresholds scaled after conversion"
        else:
            base_steps = _encoder_steps(load_model(str(paths[zoo]), zoo).graph)
            settings = [(t, 1.0) for t in SWEEP_STEPS] + [(base_steps, f) for f in SWEEP_THRESHOLDS]
            variants = _trained_variants(zoo, list(dict.fromkeys(settings)), request, pool, say)
            point = lambda t, f: _sweep_point(scale_thresholds(_with_steps(load_model(str(variants[(t, f)]), zoo).graph,
                                                                           t), f), x, y, T=t, threshold_factor=f)
            by_steps = [point(t, 1.0) for t in SWEEP_STEPS]
            by_threshold = [point(base_steps, f) for f in SWEEP_THRESHOLDS]
            how = "trained again at each threshold, as papers/000"
        out[kind] = {"zoo": zoo, "over_T": by_steps, "over_threshold": by_threshold, "thresholds": how,
                     "findings": sweep_findings(by_steps, by_threshold, how)}
    return out


def _encoder_steps(graph) -> int:
    encoders = graph.find("DirectEncode", "RateEncode")
    return int(encoders[0].attrs["num_steps"]) if encoders else CONVERTED_SWEEP_STEPS


def sweep_findings(by_steps: list[dict], by_threshold: list[dict], how: str = "") -> list[str]:
    """papers/000's three observations, each stated as reproduced or not with the numbers that decide it."""
    ops = lambda p: (p["Cadd"] or 0.0) + (p["Cmul"] or 0.0)
    pct = lambda p: 100 * p["accuracy"]
    lines = []
    first, last = by_steps[0], by_steps[-1]
    grows = all(ops(b) >= ops(a) for a, b in zip(by_steps, by_steps[1:]))
    lines.append(f"{'reproduced' if grows else 'NOT reproduced'}: a larger T costs more operations "
                 f"({ops(first):.0f} at T={first['T']} -> {ops(last):.0f} at T={last['T']})")
    better = pct(last) > pct(first)
    lines.append(f"{'reproduced' if better else 'NOT reproduced'}: a larger T raises accuracy "
                 f"({pct(first):.2f} % at T={first['T']} -> {pct(last):.2f} % at T={last['T']})")
    falls = all(ops(b) <= ops(a) for a, b in zip(by_threshold, by_threshold[1:]))
    low, high = by_threshold[0], by_threshold[-1]
    lines.append(f"{'reproduced' if falls else 'NOT reproduced'}: a larger threshold lowers the operations "
                 f"({ops(low):.0f} at x{low['threshold_factor']} -> {ops(high):.0f} at x{high['threshold_factor']})")
    unit = next(p for p in by_threshold if p["threshold_factor"] == 1.0)
    best = max(by_threshold, key=lambda p: (p["accuracy"], -ops(p)))
    raised = best["threshold_factor"] > 1.0 and best["accuracy"] > unit["accuracy"]
    lines.append(f"{'reproduced' if raised else 'NOT reproduced'}: a moderately larger threshold can raise accuracy "
                 f"(best {pct(best):.2f} % at x{best['threshold_factor']}, {pct(unit):.2f} % at x1"
                 + (f"; {how})" if how else ")"))
    return lines
