"""Human labels for report keys: the words of the key with its unit written out ("energy_range_uj" -> "energy range
(µJ)"). Keys carry their unit as a suffix (docs/report.md); keys without one that count something say what.
What each field means is in report.schema.json (its ``description``), which docs/report.md lists."""
from __future__ import annotations

UNIT_SUFFIXES = {"_uj": "µJ", "_us": "µs", "_ns": "ns", "_pj": "pJ", "_mw": "mW", "_w": "W", "_s": "s",
                 "_pct": "%", "_points": "points", "_bits": "bit", "_bytes": "bytes", "_hz": "Hz"}
COUNTS = {  # keys without a unit suffix: what they count
    "spikes_before": "spikes before (per sample, float SNN)",
    "spikes_after": "spikes after (per sample, on the target)",
    "overflow_events": "overflow events (per sample)", "spikes_per_sample": "spikes (per sample)",
    "spikes_per_inference": "spikes per inference", "neurons": "neurons", "synapses": "synapses",
    "parameters": "parameters", "weights": "weights", "T": "T (time steps)", "steps": "steps per inference",
    "latency_steps": "latency (time steps)", "norm_energy_truenorth": "normalized energy, TrueNorth weights",
    "norm_energy_spinnaker": "normalized energy, SpiNNaker weights", "shape": "output shape",
    "energy_main_terms": "largest dynamic energy terms (µJ)",
}


def label(key: str) -> str:
    """A column or row label for ``key``: its words and its unit."""
    if key in COUNTS:
        return COUNTS[key]
    for suffix, unit in UNIT_SUFFIXES.items():
        if key.endswith(suffix) and len(key) > len(suffix):
            return f"{key[: -len(suffix)].replace('_', ' ')} ({unit})"
    return key.replace("_", " ")


def field_description(kind: str, path: str) -> str | None:
    """The meaning of a report field (report.schema.json's ``description``), by report kind and dotted path with
    ``[]`` for list items, e.g. ``field_description("build", "quantization[].vth")``; None when undocumented."""
    from neurodeploy.report.schema import field_docs

    return field_docs(kind).get(path, {}).get("description")


def column_description(kind: str, rows: str, column: str) -> str:
    """What a table column shows: the field's description; a ``_pct`` column derived from a count says so."""
    counted = column[: -len("_pct")] if column.endswith("_pct") else column
    text = field_description(kind, f"{rows}.{counted}")
    if text is None:
        raise KeyError(f"report.schema.json does not describe {kind} field {rows}.{counted}")
    return f"{text} Shown as % of the layer's weights." if counted != column else text
