"""The per-chip comparison of ``compile --target all``: one row per target (schema in docs/report.md)."""
from __future__ import annotations

from neurodeploy.report import markdown_table, text_table
from neurodeploy.report.labels import column_labels

COLUMNS = ("target", "accuracy_pct", "gap_points", "cores", "chips", "energy_uj", "energy_range_uj", "static_energy_uj",
           "energy_main_terms", "latency_us", "latency_range_us", "steps", "spikes_per_inference",
           "norm_energy_truenorth", "norm_energy_spinnaker")


def _main_terms(breakdown: dict | None) -> str:
    if not breakdown:
        return "-"
    known = sorted(((k, v) for k, v in breakdown.items() if v is not None), key=lambda kv: -kv[1])[:2]
    unknown = [k for k, v in breakdown.items() if v is None]
    parts = [", ".join(f"{k} {v:.3g}" for k, v in known)] if known else []
    return "; ".join(parts + ([f"unknown: {', '.join(unknown)}"] if unknown else []))


def _row(target: str, report: dict | str) -> dict:
    if isinstance(report, str):
        return {"target": target, "error": report}
    est, deployed = report["estimate"], report["deployed"]
    return {
        "target": target,
        "accuracy_pct": None if deployed["accuracy"] is None else 100 * deployed["accuracy"],
        "gap_points": report["accuracy_gap_points"],
        "cores": est.get("cores"), "chips": est.get("chips"),
        "energy_uj": est.get("energy_uj"), "energy_range_uj": est.get("energy_range_uj"),
        "static_energy_uj": est.get("static_energy_uj"), "energy_breakdown_uj": est.get("energy_breakdown_uj"),
        "energy_main_terms": _main_terms(est.get("energy_breakdown_uj")),
        "energy_basis": est.get("energy_basis"),
        "latency_us": est.get("latency_us"), "latency_range_us": est.get("latency_range_us"),
        "steps": deployed["steps"],
        "spikes_per_inference": deployed["spikes_per_inference"],
    }


def summary_report(request, reports: dict[str, dict | str]) -> dict:
    """The summary dict: rows per target plus the normalized energy of every row on each chip's weights."""
    from neurodeploy.backends import get_backend
    from neurodeploy.pipeline import request_dict
    from neurodeploy.energy import chip_weights, normalized_energy

    rows = [_row(t, r) for t, r in reports.items()]
    runs = {r["target"]: (r["spikes_per_inference"], r["steps"]) for r in rows if "error" not in r}
    for chip, column in (("truenorth", "norm_energy_truenorth"), ("spinnaker1", "norm_energy_spinnaker")):
        weights = chip_weights(get_backend(chip).spec)
        energies = normalized_energy(runs, *weights)
        for r in rows:
            r[column] = energies.get(r["target"])
    from neurodeploy.report.schema import versioned

    return {**versioned("targets"), "model": next((r["model"] for r in reports.values()
                                                               if isinstance(r, dict)), request.model),
            "targets": rows, "request": request_dict(request),
            "normalized_energy_note": "E = E_i N/N_max + E_l L/L_max over the rows (papers/001 eq. 25); unitless"}


def _span(value):
    """A [low, high] range as one table cell."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return "-".join(f"{v:.3g}" for v in value)
    return value


def table_rows(summary: dict) -> list[list]:
    return [[_span(r.get(c)) if "error" not in r or c == "target" else ("error" if c == "accuracy_pct" else None)
             for c in COLUMNS] for r in summary["targets"]]


def _headers() -> list[str]:
    return column_labels("targets", "targets[]", COLUMNS)


def _errors(summary: dict) -> list[str]:
    return [f"{r['target']}: {r['error']}" for r in summary["targets"] if "error" in r]


def render_targets_text(summary: dict) -> str:
    lines = [f"{summary['model']} on every target", "", text_table(_headers(), table_rows(summary))]
    return "\n".join(lines + [""] + _errors(summary) + ["", summary["normalized_energy_note"]])


def render_targets_markdown(summary: dict) -> str:
    lines = [f"# {summary['model']} on every target", "", markdown_table(_headers(), table_rows(summary)),
             ""]
    lines += [f"- {e}" for e in _errors(summary)] + ["", summary["normalized_energy_note"], ""]
    return "\n".join(lines)
