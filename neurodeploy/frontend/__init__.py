"""Front-ends: turn what a user hands us (zoo name, .pt checkpoint + definition, .onnx file) into an IR graph."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from neurodeploy.errors import GraphError, InputError


@dataclass
class LoadedModel:
    """An imported ANN graph with what we know about it: its name and its data set (if any)."""

    name: str
    graph: object
    dataset: str | None
    torch_module: object | None = None
    deployed: bool = False  # already an SNN in a chip's arithmetic (netx): no conversion, no quantization


def _definition(spec: str):
    """Build an nn.Module from a zoo name or 'path/to/file.py:ClassName'."""
    from neurodeploy.models import ZOO

    if spec in ZOO:
        return ZOO[spec].build(), ZOO[spec].input_shape, ZOO[spec].dataset
    path, _, cls = spec.rpartition(":")
    if not path or not Path(path).is_file():
        raise InputError(f"definition '{spec}' is neither a zoo model ({', '.join(ZOO)}) nor 'file.py:Class'")
    module_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, cls):
        raise InputError(f"{path}: defines no '{cls}'")
    return getattr(module, cls)(), getattr(module, "INPUT_SHAPE", None), None


def load_state_dict(module, path: Path) -> None:
    """Load a state-dict checkpoint with ``weights_only=True``; every mismatch is listed."""
    import torch

    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling, zip and format errors all mean an unusable checkpoint
        raise InputError(f"{path}: cannot load checkpoint with weights_only=True ({type(e).__name__}: "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else ''})") from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: holds a {type(state).__name__}, expected a state dict (module.state_dict())")
    own = module.state_dict()
    problems = [f"missing weight '{k}'" for k in own if k not in state]
    problems += [f"unexpected weight '{k}'" for k in state if k not in own]
    problems += [f"'{k}': checkpoint shape {list(state[k].shape)} != model shape {list(v.shape)}"
                 for k, v in own.items() if k in state and hasattr(state[k], "shape") and state[k].shape != v.shape]
    if problems:
        raise InputError(f"{path}: checkpoint does not match the model definition", problems)
    module.load_state_dict(state)


def _from_module(module, input_shape, name: str):
    from neurodeploy.frontend.torch_fx import from_torch

    try:
        return from_torch(module, tuple(input_shape), name)
    except GraphError as e:
        raise InputError(f"model '{name}' does not accept input shape {list(input_shape)}: {e}") from None


def load_model(model: str, definition: str | None = None, input_shape: tuple[int, ...] | None = None) -> LoadedModel:
    """Import ``model``: a zoo name, an ``.onnx`` file, or a ``.pt`` state dict with ``definition``."""
    from neurodeploy.models import ZOO

    path = Path(model)
    if model in ZOO:
        entry = ZOO[model]
        module = entry.build()
        if entry.checkpoint_path is not None:
            load_state_dict(module, entry.checkpoint_path)
        graph = _from_module(module, input_shape or entry.input_shape, model)
        return LoadedModel(model, graph, entry.dataset, module)
    if path.suffix == ".net":
        from neurodeploy.frontend.netx import load_netx

        return LoadedModel(path.stem, load_netx(path), None, deployed=True)
    if path.suffix == ".onnx":
        from neurodeploy.frontend.onnx_import import load_onnx

        return LoadedModel(path.stem, load_onnx(path), None)
    if path.suffix in (".pt", ".pth"):
        if definition is None:
            raise InputError(f"{path}: a checkpoint needs --definition (a zoo name or file.py:Class)")
        module, default_shape, dataset = _definition(definition)
        load_state_dict(module, path)
        shape = input_shape or default_shape
        if shape is None:
            raise InputError(f"{path}: give --input-shape (the definition declares no INPUT_SHAPE)")
        return LoadedModel(path.stem, _from_module(module, shape, path.stem), dataset, module)
    raise InputError(f"unknown model '{model}': give a zoo name ({', '.join(ZOO)}), an .onnx file, a lava-dl "
                     "netx .net file, or a .pt checkpoint with --definition")
