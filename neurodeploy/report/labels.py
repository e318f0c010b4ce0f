"""Human labels of report fields, with their units: the ``title`` of each field in report.schema.json, the one
place where a field's label, unit and meaning (``description``) are written (docs/report.md lists them all)."""
from __future__ import annotations

PERCENT_OF_WEIGHTS = "_pct"  # a quantization count shown as % of the layer's weights


def label(kind: str, path: str) -> str:
    """The label of a field of a ``kind`` report by dotted path (``[]`` for list items), e.g.
    ``label("build", "estimate.latency_us")`` -> "latency per inference (µs)"; a field the schema does not name
    (tests refuse such reports) shows as its key's words."""
    from neurodeploy.report.schema import titles

    return titles(kind).get(path) or path.rsplit(".", 1)[-1].replace("_", " ")


def column_labels(kind: str, rows: str, columns) -> list[str]:
    """Table headers for ``columns`` of the list ``rows`` (e.g. "quantization[]"); a ``_pct`` column that a table
    derives from a count field says it is a percentage."""
    return [label(kind, f"{rows}.{_counted(kind, rows, c)}").replace("(count)", "(% of weights)")
            if _counted(kind, rows, c) != c else label(kind, f"{rows}.{c}") for c in columns]


def _counted(kind: str, rows: str, column: str) -> str:
    """The count field a ``_pct`` table column is computed from (quantization's weights clipped / zeroed), else the
    column itself."""
    from neurodeploy.report.schema import titles

    if column.endswith(PERCENT_OF_WEIGHTS) and f"{rows}.{column}" not in titles(kind):
        return column[: -len(PERCENT_OF_WEIGHTS)]
    return column


def field_description(kind: str, path: str) -> str | None:
    """The meaning of a report field (report.schema.json's ``description``), by report kind and dotted path with
    ``[]`` for list items, e.g. ``field_description("build", "quantization[].vth")``; None when undocumented."""
    from neurodeploy.report.schema import field_docs

    return field_docs(kind).get(path, {}).get("description")


def column_description(kind: str, rows: str, column: str) -> str:
    """What a table column shows: the field's description; a ``_pct`` column derived from a count says so."""
    counted = _counted(kind, rows, column)
    text = field_description(kind, f"{rows}.{counted}")
    if text is None:
        raise KeyError(f"report.schema.json does not describe {kind} field {rows}.{counted}")
    return f"{text} Shown as % of the layer's weights." if counted != column else text
