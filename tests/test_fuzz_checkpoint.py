"""Seeded fuzzing of ``.pt`` checkpoints and ``--definition`` files through the CLI: every broken checkpoint or
definition is refused cleanly (exit 2, one ``error:`` line, no traceback, no build folder), and a mutation that
leaves a valid model compiles (exit 0). Checkpoints are always read with ``weights_only=True``, so a mutated
pickle can only fail to load, never run code.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import assert_clean_failure, byte_mutations

COMPILE = ("--steps", "4", "--eval-samples", "10", "--calibration-samples", "64")
DEFINITION = """from torch import nn
INPUT_SHAPE = (1, 8, 8)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(64, 16)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.flat(x))))
"""
JUNK_LINES = ["raise RuntimeError('broken on purpose')", "import no_such_module", "import sys; sys.exit(4)",
              "INPUT_SHAPE = 'one by eight'", "Net = 3", "del nn", "x = 1 / 0", "def (:", "    return None",
              "INPUT_SHAPE = (1, 0, 8)", "class Net:\n    pass"]


def _definition_state():
    torch.manual_seed(0)
    namespace = {}
    exec(compile(DEFINITION, "definition", "exec"), namespace)
    return namespace["Net"]().state_dict()


def _compile(run_cli, folder, checkpoint, definition, *extra):
    out = folder / "out"
    result = run_cli("compile", checkpoint, "--definition", definition, "-o", out, *COMPILE, *extra)
    if result[0] != 0:
        assert_clean_failure(result, out)
    else:
        assert (out / "report.json").is_file()
    return result[0]


# ------------------------------------------------------------------ checkpoint values


def _value(rng, tensor):
    """A replacement for one checkpoint entry: another Python type, another dtype or shape, or non-finite."""
    choices = [3, 2.5, "weights", [1.0, 2.0], {"nested": tensor}, None, True,
               tensor.to(torch.int64), tensor.to(torch.bool), tensor.to(torch.float16), tensor.to(torch.complex64),
               tensor.reshape(-1)[:1], torch.zeros(()), torch.zeros(0), tensor.unsqueeze(0),
               torch.full_like(tensor, float("nan")), torch.full_like(tensor, float("inf")), tensor.double()]
    return choices[int(rng.integers(len(choices)))]


def _mutated_state(state: dict, rng):
    state = dict(state)
    keys = list(state)
    kind = int(rng.integers(6))
    if kind <= 2:
        key = keys[int(rng.integers(len(keys)))]
        state[key] = _value(rng, state[key])
    elif kind == 3:
        del state[keys[int(rng.integers(len(keys)))]]
    elif kind == 4:
        state[str(rng.choice(["extra.weight", "fc1.weight.bak", "0"]))] = torch.ones(2)
    else:
        return [{"model": state}, [state], tuple(state.values()), state[keys[0]], 7, "state"][int(rng.integers(6))]
    return state


@pytest.mark.parametrize("seed", range(36))
def test_mutated_checkpoint_with_zoo_definition(run_cli, tmp_path, seed):
    import numpy as np
    from neurodeploy.models import ZOO

    torch.manual_seed(0)
    state = _mutated_state(ZOO["digits_mlp"].build().state_dict(), np.random.default_rng(seed))
    torch.save(state, tmp_path / "net.pt")
    _compile(run_cli, tmp_path, tmp_path / "net.pt", "digits_mlp")


@pytest.mark.parametrize("seed", range(36))
def test_mutated_checkpoint_with_definition_file(run_cli, tmp_path, seed):
    import numpy as np

    (tmp_path / "net_def.py").write_text(DEFINITION)
    torch.save(_mutated_state(_definition_state(), np.random.default_rng(100 + seed)), tmp_path / "net.pt")
    _compile(run_cli, tmp_path, tmp_path / "net.pt", f"{tmp_path / 'net_def.py'}:Net", "--dataset", "digits")


def test_byte_corrupted_checkpoints(run_cli, tmp_path):
    torch.save(_definition_state(), tmp_path / "good.pt")
    (tmp_path / "net_def.py").write_text(DEFINITION)
    codes = []
    for i, data in enumerate(byte_mutations((tmp_path / "good.pt").read_bytes(), 3, 40)):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "net.pt").write_bytes(data)
        codes.append(_compile(run_cli, folder, folder / "net.pt", f"{tmp_path / 'net_def.py'}:Net",
                              "--dataset", "digits"))
    assert 2 in codes


# ------------------------------------------------------------------ definition files


def _mutated_definition(rng) -> str:
    lines = DEFINITION.splitlines()
    i = int(rng.integers(len(lines)))
    kind = int(rng.integers(3))
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[i])
    else:
        lines.insert(i, JUNK_LINES[int(rng.integers(len(JUNK_LINES)))])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(48))
def test_mutated_definition_file(run_cli, tmp_path, seed):
    import numpy as np

    torch.save(_definition_state(), tmp_path / "net.pt")
    (tmp_path / "net_def.py").write_text(_mutated_definition(np.random.default_rng(seed)))
    _compile(run_cli, tmp_path, tmp_path / "net.pt", f"{tmp_path / 'net_def.py'}:Net", "--dataset", "digits")


def test_byte_corrupted_definition_files(run_cli, tmp_path):
    torch.save(_definition_state(), tmp_path / "net.pt")
    codes = []
    for i, data in enumerate(byte_mutations(DEFINITION.encode(), 5, 32)):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "net_def.py").write_bytes(data)
        codes.append(_compile(run_cli, folder, tmp_path / "net.pt", f"{folder / 'net_def.py'}:Net",
                              "--dataset", "digits"))
    assert 2 in codes


@pytest.mark.parametrize("spec", ["{d}/net_def.py:Missing", "{d}/net_def.py:INPUT_SHAPE", "{d}/net_def.py:nn",
                                  "{d}/net_def.py:", "{d}/absent.py:Net", "{d}/net.pt:Net", "{d}:Net", "nonsense"])
def test_definition_specs(run_cli, tmp_path, spec):
    (tmp_path / "net_def.py").write_text(DEFINITION)
    torch.save(_definition_state(), tmp_path / "net.pt")
    result = run_cli("compile", tmp_path / "net.pt", "--definition", spec.format(d=tmp_path), "-o", tmp_path / "out",
                     *COMPILE, "--dataset", "digits")
    assert_clean_failure(result, tmp_path / "out")


def test_known_checkpoint_problems_name_the_key(run_cli, tmp_path):
    (tmp_path / "net_def.py").write_text(DEFINITION)
    state = _definition_state()
    for key, value, fragment in (
            ("fc1.weight", torch.full((16, 64), float("nan")), "'fc1.weight': 1024 NaN"),
            ("fc2.bias", torch.ones(10, dtype=torch.int32), "'fc2.bias': checkpoint dtype torch.int32"),
            ("fc1.bias", "zeros", "'fc1.bias': checkpoint holds a value of type str")):
        torch.save({**state, key: value}, tmp_path / "net.pt")
        result = run_cli("compile", tmp_path / "net.pt", "--definition", f"{tmp_path / 'net_def.py'}:Net",
                         "-o", tmp_path / "out", *COMPILE, "--dataset", "digits")
        assert_clean_failure(result, tmp_path / "out", "net.pt: checkpoint does not match", fragment)


def test_module_with_nan_buffer_is_refused_by_the_ir(run_cli, tmp_path):
    """A definition whose BatchNorm statistics are NaN and a checkpoint that carries them: named as well."""
    definition = ("from torch import nn\nINPUT_SHAPE = (4,)\nclass Net(nn.Sequential):\n    def __init__(self):\n"
                  "        super().__init__(nn.Linear(4, 10), nn.BatchNorm1d(10))\n")
    (tmp_path / "bn_def.py").write_text(definition)
    module = nn.Sequential(nn.Linear(4, 10), nn.BatchNorm1d(10))
    state = module.state_dict()
    state["1.running_var"] = torch.full((10,), float("nan"))
    torch.save(state, tmp_path / "bn.pt")
    result = run_cli("compile", tmp_path / "bn.pt", "--definition", f"{tmp_path / 'bn_def.py'}:Net", "-o",
                     tmp_path / "out", *COMPILE, "--dataset", "digits")
    assert_clean_failure(result, tmp_path / "out", "'1.running_var': 10 NaN")
