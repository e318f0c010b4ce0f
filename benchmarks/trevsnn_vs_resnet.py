"""The T-RevSNN-style digits model beside the spiking ResNet of similar size, on every target (docs/trevsnn.md).

    python benchmarks/trevsnn_vs_resnet.py                   # both zoo models, every target, ~2 min
    python benchmarks/trevsnn_vs_resnet.py --out /tmp/cmp    # keep the build folders (report.html of each)

Each model is compiled with ``neurodeploy.compile`` (the CLI's driver) for each target, on the whole digits test
split. A row gives the float and deployed accuracy, spikes, energy (nominal and range), latency, steps, cores,
synapses and parameters; a target that refuses a model gives its first reason and how many it listed.
Prints a markdown table (``--json PATH`` also writes the rows).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from neurodeploy import compile as nd_compile
from neurodeploy.errors import NeurodeployError

MODELS = ("digits_trevsnn", "digits_resnet_snn")
TARGETS = ("loihi2", "loihi1", "truenorth", "spinnaker1", "spinnaker2")


def _row(model: str, target: str, folder: Path) -> dict:
    try:
        result = nd_compile(model, target=target, output=folder / f"{model}-{target}")
    except NeurodeployError as e:
        problems = list(getattr(e, "problems", []) or [])
        return {"model": model, "target": target, "refused": problems[0] if problems else e.headline,
                "problems": len(problems)}
    r, est = result.report, result.estimate
    layers = r["layers"]
    return {"model": model, "target": target, "float": r["snn"]["accuracy"], "deployed": r["deployed"]["accuracy"],
            "spikes": est.get("spikes_per_inference"), "energy_uj": est.get("energy_uj"),
            "energy_range_uj": est.get("energy_range_uj"), "latency_us": est.get("latency_us"),
            "steps": est.get("steps"), "cores": est.get("cores"),
            "synapses": sum(row["synapses"] or 0 for row in layers),
            "parameters": sum(row["parameters"] or 0 for row in layers)}


def _cell(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return "-".join(_cell(v, digits) for v in value)
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def markdown(rows: list[dict]) -> str:
    head = ("| model | target | float % | deployed % | spikes | energy µJ (range) | latency µs | steps | cores | "
            "synapses | parameters |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        if "refused" in r:
            lines.append(f"| {r['model']} | {r['target']} | refused ({r['problems']} problems): {r['refused']} "
                         "| | | | | | | | |")
            continue
        energy = f"{_cell(r['energy_uj'])} ({_cell(r['energy_range_uj'])})"
        lines.append(f"| {r['model']} | {r['target']} | {100 * r['float']:.2f} | {100 * r['deployed']:.2f} | "
                     f"{_cell(r['spikes'], 0)} | {energy} | {_cell(r['latency_us'])} | {r['steps']} | {r['cores']} | "
                     f"{_cell(r['synapses'])} | {_cell(r['parameters'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the build folders (default: a temporary one)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch)
        rows = [_row(model, target, folder) for model in MODELS for target in args.targets]
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
