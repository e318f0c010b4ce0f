"""Chip specs: the only reader of ``backends/<target>/spec.yaml``.

A spec is data, validated when loaded. Layout (see docs/spec_schema.md)::

    schema: 1
    name: loihi2                     # equals the backend folder name
    title: Intel Loihi 2
    description: ...
    supported_ops: [Conv, Gemm, ...] # IR ops the target can deploy
    values:                          # nested numbers; null = unknown (never a silent zero)
      cores: {per_chip: 128}
    sources:                         # dotted path of every non-null number -> reference id
      cores.per_chip: davies2021
    references:                      # reference id -> citation
      davies2021: "Davies et al., Proc. IEEE 109(5), 2021"

Every non-null number needs a source, every source a reference; unknown keys are errors. Reading a null
value with :meth:`ChipSpec.value` raises, so an estimate can never use an unknown number silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurodeploy.errors import SpecError

SCHEMA_VERSION = 1
_TOP_KEYS = {"schema", "name", "title", "description", "supported_ops", "values", "sources", "references"}


@dataclass(frozen=True)
class ChipSpec:
    """A validated chip spec; ``values`` is the nested mapping of numbers (None = unknown)."""

    name: str
    title: str
    description: str
    supported_ops: tuple[str, ...]
    values: dict
    sources: dict[str, str]
    references: dict[str, str]
    path: str

    def value(self, dotted: str) -> Any:
        """The number at ``dotted`` ('cores.per_chip'); SpecError if absent or unknown (null)."""
        node: Any = self.values
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                raise SpecError(f"spec '{self.name}' ({self.path}) has no value '{dotted}'")
            node = node[key]
        if node is None:
            raise SpecError(f"spec '{self.name}': '{dotted}' is unknown (null in {self.path}); "
                            "this estimate cannot be computed without it")
        return node

    def source_of(self, dotted: str) -> str:
        ref = self.sources.get(dotted)
        return self.references.get(ref, ref) if ref else "unknown"

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, "name": self.name, "title": self.title, "description": self.description,
                "supported_ops": list(self.supported_ops), "values": self.values, "sources": self.sources,
                "references": self.references, "path": self.path}


def _number_leaves(values: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> leaf for every leaf of a nested mapping (lists of numbers count as one leaf)."""
    if isinstance(values, dict):
        out = {}
        for key, sub in values.items():
            out.update(_number_leaves(sub, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: values}


def _problems(raw: Any) -> list[str]:
    from neurodeploy.ir.ops import OPS

    if not isinstance(raw, dict):
        return ["the file must hold a mapping"]
    problems = [f"unknown key '{k}'" for k in raw if k not in _TOP_KEYS]
    problems += [f"missing key '{k}'" for k in sorted(_TOP_KEYS) if k not in raw]
    if problems:
        return problems
    if raw["schema"] != SCHEMA_VERSION:
        problems.append(f"schema is {raw['schema']!r}, this version reads schema {SCHEMA_VERSION}")
    for key in ("values", "sources", "references"):
        if not isinstance(raw[key] or {}, dict):
            problems.append(f"'{key}' must be a mapping")
    if problems:
        return problems
    problems += [f"supported_ops: unknown op '{op}'" for op in raw["supported_ops"] or [] if op not in OPS]
    sources, references = raw["sources"] or {}, raw["references"] or {}
    for path, leaf in _number_leaves(raw["values"] or {}).items():
        if leaf is None:
            continue
        if not isinstance(leaf, (int, float, str, list)) or isinstance(leaf, bool):
            problems.append(f"values.{path}: {leaf!r} is not a number, string or list")
        if path not in sources:
            problems.append(f"values.{path} = {leaf!r} has no entry in 'sources'")
    leaves = _number_leaves(raw["values"] or {})
    problems += [f"sources.{p}: no such value" for p in sources if p not in leaves]
    problems += [f"sources.{p}: reference '{r}' is not in 'references'" for p, r in sources.items()
                 if r not in references]
    return problems


def load_spec(path: str | Path) -> ChipSpec:
    """Load and validate a spec file with ``yaml.safe_load``; every problem is listed in one SpecError."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"{path}: cannot read chip spec ({type(e).__name__}: {e})") from None
    problems = _problems(raw)
    if problems:
        raise SpecError(f"{path}: invalid chip spec", problems)
    return ChipSpec(
        name=raw["name"], title=raw["title"], description=raw["description"],
        supported_ops=tuple(raw["supported_ops"] or ()), values=raw["values"] or {},
        sources=raw["sources"] or {}, references=raw["references"] or {}, path=str(path),
    )
