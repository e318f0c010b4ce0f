"""Front-ends: torch.fx and ONNX import agree with torch; unsupported input is reported completely."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurodeploy.errors import InputError, UnsupportedError
from neurodeploy.frontend import load_model, load_state_dict
from neurodeploy.frontend.onnx_import import load_onnx
from neurodeploy.frontend.torch_fx import from_torch
from neurodeploy.ir import reference
from neurodeploy.models import ZOO

from helpers import torch_output


def _randomize_batchnorm(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return module.eval()


def _ir_output(g, x):
    return reference.run(g, {next(iter(g.inputs)): x})[g.outputs[0]]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_models_import_and_match_torch(name):
    entry = ZOO[name]
    module = _randomize_batchnorm(entry.build())
    x = np.random.rand(2, *entry.input_shape).astype(np.float32)
    g = from_torch(module, entry.input_shape, name)
    expected = torch_output(module, x)
    np.testing.assert_allclose(_ir_output(g, x), expected, atol=1e-5 * max(1.0, np.abs(expected).max()))


class FunctionalNet(nn.Module):
    """Residual add, functional relu/flatten, view(x.size(0), -1), grouped/dilated/'same' convs, BN1d."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 8, 3, padding="same", dilation=2)
        self.b = nn.Conv2d(8, 8, 3, padding=1, groups=4, stride=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(32, 6)
        self.bn = nn.BatchNorm1d(6)

    def forward(self, x):
        y = F.relu(self.a(x))
        y = torch.relu(self.b(y) + y)
        y = self.pool(y)
        y = y.view(y.size(0), -1)
        return self.bn(self.fc(torch.flatten(y, 1)))


def test_functional_operations_match_torch():
    module = _randomize_batchnorm(FunctionalNet())
    x = np.random.rand(3, 4, 8, 8).astype(np.float32)
    g = from_torch(module, (4, 8, 8))
    assert [n.op for n in g.nodes].count("Add") == 1
    np.testing.assert_allclose(_ir_output(g, x), torch_output(module, x), atol=1e-5)


class ManyUnsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.act = nn.Sigmoid()
        self.up = nn.Upsample(scale_factor=2)
        self.fc = nn.Linear(4 * 12 * 12 * 2, 3)

    def forward(self, x):
        y = self.up(self.act(self.conv(x)))
        return self.fc(torch.flatten(torch.cat([y, y], dim=1), 1))


def test_every_unsupported_layer_is_listed():
    with pytest.raises(UnsupportedError) as err:
        from_torch(ManyUnsupported(), (1, 8, 8), "many")
    problems = err.value.problems
    assert len(problems) == 3
    assert "node 'act' (module 'act' of type Sigmoid) at position 2" in problems[0]
    assert "module 'up' of type Upsample" in problems[1]
    assert "function cat" in problems[2]


def _export(module, x, path, dynamic=True):
    torch.onnx.export(module.eval(), torch.from_numpy(x), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}} if dynamic else None)
    return path


@pytest.mark.parametrize("name", ["digits_cnn", "digits_mlp", "resnet20"])
def test_onnx_export_of_zoo_models_imports_and_matches(tmp_path, name):
    entry = ZOO[name]
    module = _randomize_batchnorm(entry.build())
    x = np.random.rand(2, *entry.input_shape).astype(np.float32)
    g = load_onnx(_export(module, x, tmp_path / f"{name}.onnx"))
    assert {n.op for n in g.nodes} <= {"Conv", "Gemm", "Relu", "AveragePool", "Flatten", "Add", "BatchNormalization"}
    np.testing.assert_allclose(_ir_output(g, x), torch_output(module, x), atol=1e-5)


def test_onnx_import_folds_shape_arithmetic_and_matmul(tmp_path):
    class ViewNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 3, 3)
            self.w = nn.Parameter(torch.randn(108, 4))

        def forward(self, x):
            y = self.conv(x)
            return torch.matmul(y.view(y.size(0), -1), self.w)

    x = np.random.rand(2, 1, 8, 8).astype(np.float32)
    module = ViewNet()
    g = load_onnx(_export(module, x, tmp_path / "view.onnx"))
    assert [n.op for n in g.nodes] == ["Conv", "Reshape", "Gemm"]
    np.testing.assert_allclose(_ir_output(g, x), torch_output(module, x), atol=1e-5)


def test_onnx_unsupported_ops_are_all_listed(tmp_path):
    module = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Softmax(dim=1))
    path = _export(module, np.random.rand(2, 4).astype(np.float32), tmp_path / "sig.onnx")
    with pytest.raises(UnsupportedError) as err:
        load_onnx(path)
    assert str(path) in str(err.value)
    assert [p.split(" (")[1].split(",")[0] for p in err.value.problems] == ["op Sigmoid", "op Softmax"]


@pytest.mark.parametrize("content", [b"", b"\x08\x96\x01garbage" * 10, b"not a model at all"])
def test_corrupt_onnx_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(InputError, match="bad.onnx"):
        load_onnx(path)


def test_truncated_onnx_file(tmp_path):
    good = _export(ZOO["digits_mlp"].build(), np.random.rand(2, 1, 8, 8).astype(np.float32), tmp_path / "m.onnx")
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated.onnx: not a valid ONNX model"):
        load_onnx(bad)


def test_checkpoint_errors(tmp_path):
    module = ZOO["digits_mlp"].build()
    with pytest.raises(InputError, match="checkpoint not found"):
        load_state_dict(module, tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with pytest.raises(InputError, match="corrupt.pt: cannot load checkpoint with weights_only=True"):
        load_state_dict(module, corrupt)
    other = tmp_path / "other.pt"
    torch.save(ZOO["digits_cnn"].build().state_dict(), other)
    with pytest.raises(InputError) as err:
        load_state_dict(module, other)
    problems = err.value.problems
    assert "missing weight '6.weight'" in problems and "unexpected weight '0.weight'" in problems
    assert "'1.weight': checkpoint shape [16] != model shape [128, 64]" in problems


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(ZOO["digits_mlp"].build(), path)
    with pytest.raises(InputError, match="weights_only=True"):
        load_state_dict(ZOO["digits_mlp"].build(), path)


def test_checkpoint_with_definition_file(tmp_path):
    definition = tmp_path / "mynet.py"
    definition.write_text("from torch import nn\nINPUT_SHAPE = (5,)\n"
                          "class Net(nn.Sequential):\n    def __init__(self):\n"
                          "        super().__init__(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))\n")
    module = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    torch.save(module.state_dict(), tmp_path / "net.pt")
    loaded = load_model(str(tmp_path / "net.pt"), f"{definition}:Net")
    x = np.random.rand(3, 5).astype(np.float32)
    np.testing.assert_allclose(_ir_output(loaded.graph, x), torch_output(module, x), atol=1e-6)


def test_wrong_input_shape_names_the_layer():
    with pytest.raises(InputError, match=r"does not accept input shape \[3, 32, 32\].*0 \(Conv\): input has 3 "
                                         r"channels"):
        load_model("digits_cnn", input_shape=(3, 32, 32))
