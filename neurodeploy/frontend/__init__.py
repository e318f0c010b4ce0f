"""Front-ends: turn what a user hands us (zoo name, .pt checkpoint + definition, .onnx file) into an IR graph."""
from __future__ import annotations

import importlib.util
import numbers
import sys
from dataclasses import dataclass
from pathlib import Path

from neurodeploy.errors import GraphError, InputError


@dataclass
class LoadedModel:
    """An imported graph with what we know about it: its name and its data set (if any).

    ``spiking``: the graph is already a float SNN (trained directly: neurodeploy.nn layers, NIR); it skips ANN ->
    SNN conversion, and ``graph.meta['time']`` states its time semantics (dt, integration rule, where they came
    from). ``deployed``: already an SNN in a chip's arithmetic (netx): no conversion, no quantization.
    """

    name: str
    graph: object
    dataset: str | None
    torch_module: object | None = None
    deployed: bool = False
    spiking: bool = False


def _one_line(e: BaseException) -> str:
    """``Type: first line of the message``: what a user needs from an exception raised by their own code."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _import_file(path: Path):
    """Execute a definition file as a module; any failure is the user's file's, so it becomes an InputError."""
    if path.suffix != ".py":
        raise InputError(f"definition file '{path}' must be a Python file (.py)")
    if not path.is_file():
        raise InputError(f"definition file '{path}' not found" + (" (it is a directory)" if path.is_dir() else ""))
    name = f"neurodeploy_definition_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and typing look their module up while it executes
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:  # SyntaxError, ImportError, whatever it raises, even sys.exit()
        raise InputError(f"{path}: importing the definition failed ({_one_line(e)})") from None
    finally:
        sys.modules.pop(name, None)
    return module


def _input_shape(module, path: Path):
    shape = getattr(module, "INPUT_SHAPE", None)
    if shape is None:
        return None
    if not isinstance(shape, (tuple, list)) or not shape or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1 for d in shape):
        raise InputError(f"{path}: INPUT_SHAPE must be a tuple of positive ints like (1, 8, 8), got {shape!r}")
    return tuple(int(d) for d in shape)


def _build(factory, cls: str, path: Path):
    """Construct the definition's module: a no-argument nn.Module subclass, or a function returning a module."""
    from torch import nn

    if isinstance(factory, type) and not issubclass(factory, nn.Module):
        raise InputError(f"{path}: '{cls}' is a class but not an nn.Module subclass")
    if not callable(factory):
        raise InputError(f"{path}: '{cls}' is a value of type {type(factory).__name__}, not an nn.Module subclass")
    try:
        module = factory()
    except (Exception, SystemExit) as e:  # user code: missing arguments, errors in __init__, ...
        raise InputError(f"{path}: {cls}() failed ({_one_line(e)}); the class must build with no arguments") from None
    if not isinstance(module, nn.Module):
        raise InputError(f"{path}: {cls}() returned a value of type {type(module).__name__}, not an nn.Module")
    return module


def _definition(spec: str):
    """Build an nn.Module from a zoo name or 'path/to/file.py:ClassName'."""
    from neurodeploy.models import ZOO

    if spec in ZOO:
        return ZOO[spec].build(), ZOO[spec].input_shape, ZOO[spec].dataset
    path, _, cls = spec.rpartition(":")
    if not path:
        raise InputError(f"definition '{spec}' is neither a zoo model ({', '.join(ZOO)}) nor 'file.py:Class'")
    if not cls.isidentifier():
        raise InputError(f"definition '{spec}': give the class after the colon, as in 'file.py:Class'")
    module = _import_file(Path(path))
    if not hasattr(module, cls):
        raise InputError(f"{path}: defines no '{cls}'")
    return _build(getattr(module, cls), cls, Path(path)), _input_shape(module, Path(path)), None


def _state_problems(state: dict, own: dict) -> list[str]:
    """Every way a checkpoint's entries disagree with the model's: missing, unexpected, not a tensor, shape,
    kind of number (an integer tensor is no float weight), and weights that are not finite."""
    import torch

    problems = [f"missing weight '{k}'" for k in own if k not in state]
    for k, value in state.items():
        if k not in own:
            problems.append(f"unexpected weight '{k}'" + ("" if isinstance(value, torch.Tensor) else
                                                          f" (a {type(value).__name__})"))
        elif not isinstance(value, torch.Tensor):
            problems.append(f"'{k}': checkpoint holds a value of type {type(value).__name__}, not a tensor")
        elif value.layout != torch.strided or value.is_quantized:
            kind = "quantized" if value.is_quantized else f"{value.layout}".replace("torch.", "")
            problems.append(f"'{k}': a {kind} tensor; save dense float weights (tensor.to_dense(), dequantize())")
        elif value.shape != own[k].shape:
            problems.append(f"'{k}': checkpoint shape {list(value.shape)} != model shape {list(own[k].shape)}")
        elif value.is_floating_point() != own[k].is_floating_point() or value.is_complex():
            problems.append(f"'{k}': checkpoint dtype {value.dtype} does not fit the model's {own[k].dtype}")
        elif value.is_floating_point() and not bool(torch.isfinite(value).all()):
            problems.append(f"'{k}': {int(torch.isnan(value).sum())} NaN and {int(torch.isinf(value).sum())} Inf "
                            f"of {value.numel()} values")
    return problems


def load_state_dict(module, path: Path) -> None:
    """Load a state-dict checkpoint with ``weights_only=True``; every mismatch is listed."""
    import torch

    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a checkpoint file")
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling, zip and format errors all mean an unusable checkpoint
        raise InputError(f"{path}: cannot load checkpoint with weights_only=True ({type(e).__name__}: "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else ''})") from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: holds a {type(state).__name__}, expected a state dict (module.state_dict())")
    nested = [k for k, v in state.items() if isinstance(v, dict)]
    hint = f" (the weights may be under '{nested[0]}': save module.state_dict() itself)" if nested else ""
    problems = _state_problems(state, module.state_dict())
    if problems:
        raise InputError(f"{path}: checkpoint does not match the model definition{hint}", problems)
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as e:  # e.g. a sparse or quantized tensor that cannot be copied
        raise InputError(f"{path}: cannot load the checkpoint into the model ({_one_line(e)})") from None


def is_spiking(graph) -> bool:
    """A graph with neurons, encoders or readouts (ops that are not stateless ANN ops), or whose front-end stated its
    time semantics (a spike input), is a trained SNN."""
    from neurodeploy.ir.ops import OPS

    return "time" in graph.meta or any(OPS[n.op].kind != "ann" for n in graph.nodes)


def _from_module(module, input_shape, name: str):
    from neurodeploy.frontend.torch_fx import from_torch

    try:
        return from_torch(module, tuple(input_shape), name)
    except GraphError as e:
        raise InputError(f"model '{name}' does not accept input shape {list(input_shape)}: {e}") from None


def load_model(model: str, definition: str | None = None, input_shape: tuple[int, ...] | None = None,
               num_steps: int | None = None, snn_import: dict | None = None) -> LoadedModel:
    """Import ``model``: a zoo name, an ``.onnx`` file, a ``.pt`` state dict with ``definition``, a netx ``.net``
    file (``num_steps`` and ``input_shape`` override its tSample and the input shape it implies), or a NIR ``.nir``
    file (``snn_import``: dt, integration and reset with which its continuous time is read)."""
    from neurodeploy.models import ZOO

    path = Path(model)
    if model in ZOO:
        entry = ZOO[model]
        module = entry.build()
        if entry.checkpoint_path is not None:
            load_state_dict(module, entry.checkpoint_path)
        graph = _from_module(module, input_shape or entry.input_shape, model)
        return LoadedModel(model, graph, entry.dataset, module, spiking=is_spiking(graph))
    if path.suffix == ".net":
        from neurodeploy.frontend.netx import load_netx

        return LoadedModel(path.stem, load_netx(path, num_steps, input_shape), None, deployed=True)
    if path.suffix == ".onnx":
        from neurodeploy.frontend.onnx_import import load_onnx

        return LoadedModel(path.stem, load_onnx(path), None)
    if path.suffix == ".nir":
        from neurodeploy.frontend.nir_import import load_nir

        options = {k: v for k, v in (snn_import or {}).items() if k in ("dt", "integration", "reset")}
        return LoadedModel(path.stem, load_nir(path, num_steps=num_steps, **options), None, spiking=True)
    if path.suffix in (".pt", ".pth"):
        if definition is None:
            raise InputError(f"{path}: a checkpoint needs --definition (a zoo name or file.py:Class)")
        module, default_shape, dataset = _definition(definition)
        load_state_dict(module, path)
        shape = input_shape or default_shape
        if shape is None:
            raise InputError(f"{path}: give --input-shape (the definition declares no INPUT_SHAPE)")
        graph = _from_module(module, shape, path.stem)
        return LoadedModel(path.stem, graph, dataset, module, spiking=is_spiking(graph))
    raise InputError(f"unknown model '{model}': give a zoo name ({', '.join(ZOO)}), an .onnx file, a lava-dl "
                     "netx .net file, a NIR .nir graph (exported by Norse, snnTorch, sinabs, rockpool, ...), or a "
                     ".pt checkpoint with --definition")
