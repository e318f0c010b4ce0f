"""Reading reports back: the shape ``report.json`` (one target, or ``--target all``) and ``comparison.json``
(``codings``) must have before anything renders or runs them (fields: docs/report.md).

A hand-edited, truncated or foreign file is refused with every wrong field named, instead of failing somewhere
inside a renderer.
"""
from __future__ import annotations

from pathlib import Path

from neurodeploy.errors import InputError

NUMBER, INTEGER, TEXT, LIST, OBJECT, NULL = "number", "integer", "text", "list", "object", "null"
_CHECKS = {
    NUMBER: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    TEXT: lambda v: isinstance(v, str),
    LIST: lambda v: isinstance(v, list),
    OBJECT: lambda v: isinstance(v, dict),
    NULL: lambda v: v is None,
}

SINGLE_TARGET = {
    "model": (TEXT,), "target": (TEXT,), "dataset": (TEXT,), "test_samples": (INTEGER,),
    "ann": (OBJECT, NULL), "snn": (OBJECT, NULL), "deployed": (OBJECT,), "accuracy_gap_points": (NUMBER, NULL),
    "quantization": (LIST,), "layers": (LIST,), "estimate": (OBJECT,), "passes": (LIST,),
}
ANN = {"accuracy": (NUMBER,), "nodes": (INTEGER,)}
SNN = {"accuracy": (NUMBER, NULL), "num_steps": (INTEGER,), "coding": (TEXT, NULL), "maxpool_replaced_by_avgpool": (LIST,)}
DEPLOYED = {"accuracy": (NUMBER, NULL), "spikes_per_inference": (NUMBER,), "steps": (INTEGER, NULL)}
LAYER = {"name": (TEXT,), "op": (TEXT,), "shape": (TEXT, LIST), "neurons": (INTEGER,), "synapses": (INTEGER,),
         "parameters": (INTEGER,), "spikes_per_sample": (NUMBER, NULL)}
QUANTIZATION_ROW = {"layer": (TEXT,)}
SUMMARY = {"model": (TEXT,), "targets": (LIST,), "normalized_energy_note": (TEXT,)}
SUMMARY_ROW = {"target": (TEXT,)}
CODINGS = {"model": (TEXT,), "target": (TEXT,), "tolerance_points": (NUMBER,), "rows": (LIST,)}
CODINGS_ROW = {"coding": (TEXT,), "T": (INTEGER,)}
BENCHMARK = {"study": (TEXT,), "rows": (LIST,), "sweeps": (OBJECT, NULL)}
BENCHMARK_ROW = {"number": (INTEGER,), "label": (TEXT,), "architecture": (TEXT,), "dataset": (TEXT,),
                 "accuracy": (NUMBER, NULL), "memory_bits": (OBJECT,), "compute": (OBJECT,), "neurobench": (OBJECT,),
                 "chips": (OBJECT,)}


def field_problems(value, fields: dict, where: str) -> list[str]:
    """Problems of one JSON object against ``fields`` (name -> allowed kinds)."""
    if not isinstance(value, dict):
        return [f"{where}: expected an object, found {_kind(value)}"]
    problems = []
    for name, kinds in fields.items():
        if name not in value:
            problems.append(f"{where}.{name}: missing")
        elif not any(_CHECKS[k](value[name]) for k in kinds):
            problems.append(f"{where}.{name}: expected {' or '.join(kinds)}, found {_kind(value[name])}")
    return problems


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "text"}.get(type(value), type(value).__name__)


def _rows(report: dict, key: str, fields: dict) -> list[str]:
    rows = report.get(key)
    if not isinstance(rows, list):
        return []
    return [p for i, row in enumerate(rows) for p in field_problems(row, fields, f"{key}[{i}]")]


def report_problems(report: dict) -> list[str]:
    """Every field of a single-target report, a ``--target all`` summary or a ``codings`` comparison that is
    missing or of the wrong kind."""
    if "study" in report:
        return field_problems(report, BENCHMARK, "benchmark") + _rows(report, "rows", BENCHMARK_ROW)
    if "rows" in report and "targets" not in report:
        return field_problems(report, CODINGS, "comparison") + _rows(report, "rows", CODINGS_ROW)
    if "targets" in report:
        problems = field_problems(report, SUMMARY, "report") + _rows(report, "targets", SUMMARY_ROW)
        rows = report["targets"] if isinstance(report.get("targets"), list) else []
        return problems + [f"targets[{i}].error: expected text" for i, row in enumerate(rows)
                           if isinstance(row, dict) and "error" in row and not isinstance(row["error"], str)]
    problems = field_problems(report, SINGLE_TARGET, "report")
    estimate = report.get("estimate")
    if isinstance(estimate, dict) and estimate.get("energy_breakdown_uj") is not None:
        problems += field_problems(estimate["energy_breakdown_uj"], {}, "estimate.energy_breakdown_uj")
    if "metrics" in report and not isinstance(report["metrics"], dict):  # builds before the metrics have none
        problems.append(f"report.metrics: expected an object, found {_kind(report['metrics'])}")
    for name, fields in (("ann", ANN), ("snn", SNN), ("deployed", DEPLOYED)):
        if isinstance(report.get(name), dict):
            problems += field_problems(report[name], fields, name)
    return problems + _rows(report, "layers", LAYER) + _rows(report, "quantization", QUANTIZATION_ROW)


def check_report(report: dict, path: Path) -> dict:
    problems = report_problems(report)
    if problems:
        raise InputError(f"{path}: not a neurodeploy report ({len(problems)} problem(s)); compile again:", problems)
    return report


def load_build_report(folder: Path) -> dict:
    """The checked report of a build folder (``report.json``), of a ``codings`` folder (``comparison.json``) or of
    a ``benchmark`` folder (``benchmark.json``); the folder's files must be the ones its report lists."""
    from neurodeploy.buildfolder import BENCHMARK_MARKER, BUILD_MARKER, SWEEP_MARKER, read_report, verify_files

    folder = Path(folder)
    other = folder.is_dir() and not (folder / BUILD_MARKER).exists()
    marker = next((m for m in (SWEEP_MARKER, BENCHMARK_MARKER) if other and (folder / m).is_file()), BUILD_MARKER)
    sweep = marker != BUILD_MARKER
    report = check_report(read_report(folder, marker), folder / marker)
    verify_files(folder, report, marker=marker)
    if not sweep and "targets" not in report:
        from neurodeploy.backends import BACKENDS

        if report["target"] not in BACKENDS:
            raise InputError(f"{folder / marker}: target '{report['target']}' is not a registered target "
                             f"({', '.join(sorted(BACKENDS))})")
    return report


def render_any(report: dict) -> str:
    """Text of a checked report of any kind."""
    from neurodeploy.report import render_text
    from neurodeploy.report.codings import render_codings_text
    from neurodeploy.report.targets import render_targets_text

    from neurodeploy.report.benchmark import render_benchmark_markdown

    try:
        if "study" in report:
            return render_benchmark_markdown(report)
        if "rows" in report and "targets" not in report:
            return render_codings_text(report)
        return render_targets_text(report) if "targets" in report else render_text(report)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:  # a field the checks do not cover
        raise InputError(f"report of '{report.get('model')}' has content this version cannot show "
                         f"({type(e).__name__}: {e}); compile again") from None
