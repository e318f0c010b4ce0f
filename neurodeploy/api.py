"""The Python API: compile a model for a target and get its results as an object (the CLI is a layer over it).

    import neurodeploy
    result = neurodeploy.compile(module, data=(x_train, y_train, x_test, y_test), target="loihi2", steps=32)
    print(result)                       # the report, as the CLI prints it
    result.accuracy["deployed"], result.estimate["energy_uj"], result.folder

``model`` is an ``nn.Module`` held in memory (give ``input_shape`` or data to size it), an IR ``Graph``, or what the
CLI takes (a zoo name, an .onnx / .net / .nir file, a .pt state dict with ``definition``). ``data`` is a data-set
name or .npz path, a dict with x_train, y_train, x_test, y_test, or those four arrays as a tuple. The build folder is
written to ``output`` (default: a new temporary folder); options are the CLI's conversion options by their Python
names (``steps``, ``percentile``, ``coding``, ``reset``, ``encoding``, ``v_init``, ``maxpool``,
``finetune_epochs``). Errors are neurodeploy's own (InputError, UnsupportedError, ...), listing every problem.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from neurodeploy.errors import InputError

# Python name -> ConversionConfig field; the CLI's --steps etc. are the same options
CONVERSION_OPTIONS = {"steps": "num_steps", "percentile": "percentile", "encoding": "encoding", "maxpool": "maxpool",
                      "v_init": "v_init", "reset": "reset", "coding": "coding", "finetune_epochs": "finetune_epochs"}
DATA_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class CompileResult:
    """One compile's report (``report``, as report.json holds it) and where its build folder is."""

    report: dict
    folder: Path

    @property
    def targets(self) -> dict[str, dict] | None:
        """``target='all'``: the row of each target (None for one target)."""
        rows = self.report.get("targets")
        return None if rows is None else {r["target"]: r for r in rows}

    @property
    def accuracy(self) -> dict[str, float | None]:
        """Accuracy of the ANN, the float SNN and the deployed network (fractions; None where there is none)."""
        r = self.report
        return {k: (r.get(k) or {}).get("accuracy") for k in ("ann", "snn", "deployed")}

    @property
    def spikes_per_layer(self) -> dict[str, float]:
        """Mean spikes per inference of each spiking layer of the deployed network."""
        return {row["name"]: row["spikes_per_sample"] for row in self.report.get("layers", [])
                if row.get("spikes_per_sample") is not None}

    @property
    def estimate(self) -> dict:
        return dict(self.report.get("estimate") or {})

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.is_file()) if self.folder.is_dir() else []

    def __repr__(self) -> str:
        from neurodeploy.report import render_text
        from neurodeploy.report.targets import render_targets_text

        text = render_targets_text(self.report) if "targets" in self.report else render_text(self.report)
        return f"{text}\n\nbuild folder: {self.folder}"

    def _repr_html_(self) -> str:  # notebooks: report.html's tables and figures, without its page style
        import html

        from neurodeploy.report.html import page_body

        page = self.folder / "report.html"
        body = page_body(page.read_text()) if page.is_file() else f"<pre>{html.escape(repr(self))}</pre>"
        return f"{body}<p>build folder: <code>{html.escape(str(self.folder))}</code></p>"


def compile(model, data=None, target: str = "ref", output: str | Path | None = None, *,
            input_shape: tuple[int, ...] | None = None, definition: str | None = None,
            eval_samples: int | None = None, calibration_samples: int | None = None, snn_import: dict | None = None,
            say: Callable[[str], None] | None = None, **options) -> CompileResult:
    """Compile ``model`` for ``target`` (or 'all'); see the module docstring. ``snn_import``: how a NIR file's
    continuous time is read (dt, integration, reset); ``say`` receives the step lines (default: silent)."""
    from neurodeploy.pipeline import CompileRequest, _import, compile_all, compile_model

    unknown = sorted(set(options) - set(CONVERSION_OPTIONS))
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; the options are "
                         f"{', '.join(CONVERSION_OPTIONS)}")
    dataset_name, dataset = _data(data)
    loaded = _in_memory(model, input_shape or (dataset.input_shape if dataset is not None else None))
    name = loaded.name if loaded is not None else str(model)
    folder = Path(output) if output is not None else Path(tempfile.mkdtemp(prefix=f"neurodeploy-{Path(name).stem}-"))
    request = CompileRequest(model=name, output=folder, target=target, definition=definition,
                             input_shape=tuple(input_shape) if input_shape else None, dataset=dataset_name,
                             calibration_samples=calibration_samples or CompileRequest.calibration_samples,
                             eval_samples=eval_samples,
                             conversion={CONVERSION_OPTIONS[k]: v for k, v in options.items() if v is not None},
                             snn_import=dict(snn_import or {}))
    quiet = say or (lambda _: None)
    if output is None:
        folder.rmdir()  # the build folder is created whole by the compile
    imported = _import(request, loaded, dataset) if (loaded is not None or dataset is not None) else None
    run = compile_all if target == "all" else compile_model
    return CompileResult(run(request, quiet, imported), folder)


def _data(data):
    """(data-set name for the request, Dataset built from arrays) from what the caller gave."""
    from neurodeploy.data import dataset_from_arrays

    if data is None or isinstance(data, (str, Path)):
        return (None if data is None else str(data)), None
    if isinstance(data, dict):
        return None, dataset_from_arrays(data)
    if isinstance(data, (tuple, list)) and len(data) == 4:
        return None, dataset_from_arrays(dict(zip(DATA_KEYS, data)))
    raise InputError(f"data must be a data-set name or .npz path, a dict with {', '.join(DATA_KEYS)}, or those four "
                     f"arrays as a tuple; got {type(data).__name__}")


def _in_memory(model, input_shape):
    """A LoadedModel for an nn.Module or an IR Graph held by the caller; None for a name or path."""
    from neurodeploy.frontend import LoadedModel, _from_module, is_spiking
    from neurodeploy.ir.graph import Graph

    if isinstance(model, (str, Path)):
        return None
    if isinstance(model, Graph):
        return LoadedModel(model.name or "graph", model, None, spiking=is_spiking(model))
    import torch

    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be an nn.Module, an IR Graph, a zoo name or a file path; got {type(model).__name__}")
    if input_shape is None:
        raise InputError(f"{type(model).__name__}: give input_shape (per sample, e.g. (1, 8, 8)) or data to size it")
    name = type(model).__name__
    graph = _from_module(model.eval(), tuple(input_shape), name)
    return LoadedModel(name, graph, None, model, spiking=is_spiking(graph))
