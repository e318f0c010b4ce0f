"""The shape of every report neurodeploy writes, and reading reports back.

``report.schema.json`` beside this file (JSON Schema, Draft 2020-12) is the contract: one ``$defs`` entry per
report kind (``report_kind``: build, targets, codings, benchmark, run), every field with a ``title`` (a short label
with its unit) and a ``description`` (its meaning). docs/report.md lists every field; ``python -m
neurodeploy.report.schema`` prints that list (``--write`` puts it into docs/report.md).

A hand-edited, truncated, foreign or old file is refused with every wrong field named, instead of failing somewhere
inside a renderer. Reading is lenient about fields this version does not know (a newer neurodeploy's); writing is
checked strictly in the tests (``NEURODEPLOY_CHECK_REPORTS=1``: see ``neurodeploy.buildfolder.report_json``).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from neurodeploy.errors import InputError

SCHEMA_VERSION = "1.0"  # of report.schema.json; raised when a field changes meaning or goes
REPORT_KINDS = ("build", "targets", "codings", "benchmark", "run")
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
CHECK_REPORTS = "NEURODEPLOY_CHECK_REPORTS"  # "1": every report written is checked strictly (the tests set it)
OLD_REPORT = "written by an older neurodeploy without a schema version; compile again"
MAX_PROBLEMS = 40  # listed of one report; the rest are counted
WHERE = {"build": "report", "targets": "report", "codings": "comparison", "benchmark": "benchmark", "run": "run"}


def versioned(kind: str) -> dict:
    """The first fields of every report: which schema version it follows, which kind of report it is, and which
    neurodeploy wrote it."""
    from neurodeploy import __version__

    assert kind in REPORT_KINDS, kind
    return {"schema_version": SCHEMA_VERSION, "report_kind": kind, "neurodeploy_version": __version__}


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    """report.schema.json, parsed (read once)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


# ------------------------------------------------------------------------------------------------ checking

_WORDS = {"number": "number", "integer": "integer", "string": "text", "array": "a list", "object": "an object",
          "boolean": "true/false", "null": "null"}


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "text"}.get(type(value), type(value).__name__)


def _path(where: str, parts) -> str:
    return where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _shown(value) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _messages(error, where: str) -> list[str]:
    """One jsonschema error in neurodeploy's words: ``where.path: expected number or null, found text``,
    ``where.path: missing``."""
    at, value, rule, limit = _path(where, error.absolute_path), error.instance, error.validator, error.validator_value
    if rule == "required":
        return [f"{at}.{name}: missing" for name in limit if isinstance(value, dict) and name not in value]
    if rule == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        return [f"{at}: expected {' or '.join(_WORDS[k] for k in kinds)}, found {_kind(value)}"]
    if rule == "additionalProperties":
        known = error.schema.get("properties", {})
        return [f"{_path(at, [k])}: not a field of this report (report.schema.json {SCHEMA_VERSION})"
                for k in value if k not in known]
    if rule in ("enum", "const"):
        allowed = limit if rule == "enum" else [limit]
        return [f"{at}: expected {' or '.join(_shown(v) for v in allowed)}, found {_shown(value)}"]
    if rule in ("minimum", "maximum"):
        return [f"{at}: expected {'at least' if rule == 'minimum' else 'at most'} {limit}, found {_shown(value)}"]
    if rule in ("minItems", "maxItems"):
        low, high = error.schema.get("minItems"), error.schema.get("maxItems")
        wanted = f"{low}" if low == high else f"{low or 0} to {high if high is not None else 'any'}"
        pair = " ([low, high])" if low == high == 2 else ""
        return [f"{at}: expected {wanted} items{pair}, found {len(value)}"]
    if rule == "pattern":
        return [f"{at}: expected {'a SHA-256 (64 hex digits)' if '{64}' in limit else f'text matching {limit}'}, "
                f"found {_shown(value)}"]
    return [f"{at}: {error.message}"]


def report_problems(report, strict: bool = False) -> list[str]:
    """Every field of a report of any kind that is missing, of the wrong type or out of range, each named with its
    path (e.g. ``report.estimate.energy_uj: expected number or null, found text``); empty for a good report.

    ``strict`` also names fields the schema does not know; readers leave it off, so that a report of a newer
    neurodeploy with an extra field still reads, while the tests check every report written with it on."""
    if not isinstance(report, dict):
        return [f"report: expected an object, found {_kind(report)}"]
    if "schema_version" not in report:
        return [f"report.schema_version: missing ({OLD_REPORT})"]
    if report["schema_version"] != SCHEMA_VERSION:
        return [f"report.schema_version: this neurodeploy reads schema {SCHEMA_VERSION}, the report follows "
                f"{_shown(report['schema_version'])}; compile again with this version"]
    where = WHERE.get(report.get("report_kind"), "report")
    problems = []
    for error in _validator().iter_errors(report):
        if error.validator == "additionalProperties" and not strict:
            continue
        problems += _messages(error, where)
    problems = list(dict.fromkeys(problems))
    if len(problems) > MAX_PROBLEMS:  # e.g. every entry of a long list: the first ones say what is wrong
        problems = problems[:MAX_PROBLEMS] + [f"... and {len(problems) - MAX_PROBLEMS} more"]
    return problems


def check_report(report: dict, path: Path) -> dict:
    """``report`` when it follows the schema; else an InputError naming every problem."""
    if isinstance(report, dict) and "schema_version" not in report:
        raise InputError(f"{path}: {OLD_REPORT}")
    problems = report_problems(report)
    if problems:
        raise InputError(f"{path}: not a neurodeploy report ({len(problems)} problem(s)); compile again:", problems)
    return report


def assert_valid(report: dict) -> None:
    """The tests' check of a report being written: AssertionError listing every problem (unknown fields too)."""
    problems = report_problems(report, strict=True)
    if problems:
        raise AssertionError(f"the report does not follow {SCHEMA_FILE.name} ({len(problems)} problem(s)):\n"
                             + "\n".join(f"  - {p}" for p in problems))


def load_build_report(folder: Path) -> dict:
    """The checked report of a build folder (``report.json``), of a ``codings`` folder (``comparison.json``) or of
    a ``benchmark`` folder (``benchmark.json``); the folder's files must be the ones its report lists."""
    from neurodeploy.buildfolder import BENCHMARK_MARKER, BUILD_MARKER, SWEEP_MARKER, read_report, verify_files

    folder = Path(folder)
    other = folder.is_dir() and not (folder / BUILD_MARKER).exists()
    marker = next((m for m in (SWEEP_MARKER, BENCHMARK_MARKER) if other and (folder / m).is_file()), BUILD_MARKER)
    report = check_report(read_report(folder, marker), folder / marker)
    kinds = {BUILD_MARKER: ("build", "targets"), SWEEP_MARKER: ("codings",), BENCHMARK_MARKER: ("benchmark",)}[marker]
    if report["report_kind"] not in kinds:
        raise InputError(f"{folder / marker}: a '{report['report_kind']}' report, not the {' or '.join(kinds)} "
                         f"report a {marker} holds")
    verify_files(folder, report, marker=marker)
    if report["report_kind"] == "build":
        from neurodeploy.backends import BACKENDS

        if report["target"] not in BACKENDS:
            raise InputError(f"{folder / marker}: target '{report['target']}' is not a registered target "
                             f"({', '.join(sorted(BACKENDS))})")
    return report


def render_any(report: dict) -> str:
    """Text of a checked report of any kind."""
    from neurodeploy.report import render_text
    from neurodeploy.report.benchmark import render_benchmark_markdown
    from neurodeploy.report.codings import render_codings_text
    from neurodeploy.report.targets import render_targets_text
    from neurodeploy.run import render_run

    renderers = {"build": render_text, "targets": render_targets_text, "codings": render_codings_text,
                 "benchmark": render_benchmark_markdown, "run": render_run}
    try:
        return renderers[report["report_kind"]](report)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:  # a field the schema leaves open
        raise InputError(f"report of '{report.get('model', report.get('build'))}' has content this version cannot "
                         f"show ({type(e).__name__}: {e}); compile again") from None


# ------------------------------------------------------------------------------------------------ field docs


def _resolve(node: dict) -> dict:
    """``node`` with a local ``$ref`` followed (the referring node's own title and description win)."""
    if "$ref" not in node:
        return node
    target = schema()
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def _type_words(node: dict) -> str:
    kinds = node.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for k in kinds:
        if k == "array":
            item = _resolve(node.get("items", {}))
            inner = item.get("type")
            inner = inner if isinstance(inner, list) else [inner] if inner else []
            if node.get("minItems") == node.get("maxItems") == 2 and inner == ["number"]:
                words.append("[low, high]")
            else:
                inner = "/".join(_WORDS[i].removeprefix("a ").removeprefix("an ") for i in inner)
                words.append(f"list of {inner}" if inner else "list")
        elif k == "object" and "properties" not in node and isinstance(node.get("additionalProperties"), dict):
            words.append("map")
        else:
            words.append(_WORDS[k].removeprefix("a ").removeprefix("an "))
    enum = [v for v in node.get("enum", []) if v is not None]
    if enum:
        words[0] = "one of " + ", ".join(f"`{v}`" for v in enum)
    return " or ".join(words)


def _ref_name(node: dict) -> str | None:
    """The shared definition ``node`` (or the items of a list ``node``) refers to, if any."""
    for n in (node, node.get("items") if isinstance(node.get("items"), dict) else {}):
        if "$ref" in n:
            return n["$ref"].rsplit("/", 1)[-1]
    return None


def _field_docs(root: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}

    def walk(node: dict, path: str) -> None:
        node = _resolve(node)
        required = set(node.get("required", []))
        for name, child in node.get("properties", {}).items():
            here = f"{path}.{name}" if path else name
            shared, child = _ref_name(child), _resolve(child)
            out[here] = {"title": child.get("title", ""), "description": child.get("description", ""),
                         "type": _type_words(child), "required": name in required, "shared": shared}
            visit(child, here)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in node:
            here = f"{path}.*"
            shared, extra = _ref_name(extra), _resolve(extra)
            if "title" in extra:
                out[here] = {"title": extra["title"], "description": extra.get("description", ""),
                             "type": _type_words(extra), "required": None, "shared": shared}
            visit(extra, here)

    def visit(node: dict, path: str) -> None:
        if "properties" in node or isinstance(node.get("additionalProperties"), dict):
            walk(node, path)
        item = node.get("items")
        if isinstance(item, dict):
            item = _resolve(item)
            if "properties" in item or isinstance(item.get("additionalProperties"), dict):
                walk(item, f"{path}[]")

    walk(root, "")
    return out


@functools.lru_cache(maxsize=None)
def field_docs(kind: str) -> dict[str, dict]:
    """Dotted field path -> {title, description, type, required, shared} of every field of a report ``kind``, in
    schema order. ``[]`` stands for a list's items, ``*`` for any key of a map keyed by data (layer, term, target),
    e.g. ``estimate.energy_uj``, ``layers[].name``, ``snn.thresholds.*``; ``required`` is None for a map's values;
    ``shared`` names the schema's shared definition (``$defs``) a field follows, if any."""
    assert kind in REPORT_KINDS, kind
    return _field_docs(schema()["$defs"][kind])


@functools.lru_cache(maxsize=None)
def titles(kind: str) -> dict[str, str]:
    """Dotted field path -> its label with unit, for renderers: ``titles("build")["estimate.latency_us"]`` is
    'latency per inference (µs)' (paths as in ``field_docs``; the dict is shared: do not change it)."""
    return {path: doc["title"] for path, doc in field_docs(kind).items()}


FILES = {"build": "`report.json` of a build", "targets": "`report.json` of `compile --target all`",
         "codings": "`comparison.json` of `neurodeploy codings`", "benchmark": "`benchmark.json` of "
         "`neurodeploy benchmark`", "run": "`run-<backend>.json` of `neurodeploy run`"}
BEGIN = "<!-- fields: generated from neurodeploy/report/report.schema.json by `python -m neurodeploy.report.schema " \
        "--write`; do not edit by hand -->"
END = "<!-- end of generated fields -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(docs: dict[str, dict]) -> list[str]:
    lines = ["| field | type | label (unit) | meaning |", "|---|---|---|---|"]
    collapsed = [p for p, d in docs.items() if d["shared"]]
    for path, doc in docs.items():
        if any(path.startswith(c + ".") or path.startswith(c + "[]") for c in collapsed):
            continue  # listed once, in the shared part's own table
        kind_words = doc["type"] + {True: "", False: "; optional", None: "; per key"}[doc["required"]]
        meaning = doc["description"] + (f" Fields: see `{doc['shared']}` below." if doc["shared"] else "")
        lines.append(f"| `{path}` | {_cell(kind_words)} | {_cell(doc['title'])} | {_cell(meaning)} |")
    return lines


def field_tables() -> str:
    """The generated part of docs/report.md: per report kind, then per shared part (the compile request, ...), a
    table of every field with its type, its label (unit) and its meaning, from report.schema.json (between the
    BEGIN and END markers)."""
    lines = [BEGIN, ""]
    for kind in REPORT_KINDS:
        lines += [f"### `report_kind: {kind}`: {FILES[kind]}", ""] + _table(field_docs(kind)) + [""]
    for name, node in schema()["$defs"].items():
        if name not in REPORT_KINDS:
            lines += [f"### shared: `{name}` ({_cell(node['title'])})", "", _cell(node["description"]), ""]
            lines += _table(_field_docs(node)) + [""]
    return "\n".join(lines + [END])


def docs_with_tables(text: str) -> str:
    """``text`` (docs/report.md) with its generated part replaced by the current ``field_tables()``."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + field_tables() + text[end:]


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        docs = Path(__file__).resolve().parents[2] / "docs" / "report.md"
        docs.write_text(docs_with_tables(docs.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote the field tables into {docs}")
    else:
        print(field_tables())
