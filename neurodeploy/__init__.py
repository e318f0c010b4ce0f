"""neurodeploy: deploy PyTorch/ONNX networks onto neuromorphic chips.

Pipeline: front-end (torch.fx, ONNX) -> IR graph -> canonicalizing passes -> ANN-to-SNN conversion ->
backend passes (quantization, core mapping) -> simulation and per-chip estimates -> report.
Nothing heavy is imported here, so ``neurodeploy --help`` stays fast.
"""
from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    """``neurodeploy.compile`` and ``neurodeploy.CompileResult`` (neurodeploy.api), imported on first use."""
    if name in ("compile", "CompileResult"):
        from neurodeploy import api

        return getattr(api, name)
    raise AttributeError(f"module 'neurodeploy' has no attribute '{name}'")
