"""The zoo's acceptance figures: digits accuracy (ANN and rate SNN, whole test split) and reproducible training."""
from __future__ import annotations

import pytest
import torch

from neurodeploy.frontend import load_model
from neurodeploy.models import ZOO
from neurodeploy.passes import ConversionConfig, PassContext, run_passes, stage
from neurodeploy.sim.evaluate import evaluate


@pytest.mark.parametrize("name,steps", [("digits_cnn", 32), ("digits_cnn", 64), ("digits_mlp", 32)])
def test_rate_snn_within_one_point_of_the_ann(digits, name, steps):
    ctx = PassContext(ConversionConfig(num_steps=steps), calibration=digits.x_train[:512], check=True)
    ann = run_passes(load_model(name).graph, stage("canonicalize"), ctx)
    snn = run_passes(ann, stage("rate"), ctx)
    ann_result = evaluate(ann, digits.x_test, digits.y_test)
    snn_result = evaluate(snn, digits.x_test, digits.y_test)
    assert ann_result.num_samples == snn_result.num_samples == 450
    assert ann_result.accuracy >= 0.97
    assert snn_result.accuracy >= ann_result.accuracy - 0.01
    assert 0 < snn_result.spikes_per_inference


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_training_reproduces_the_shipped_checkpoint(name):
    from neurodeploy.models.train_digits import train

    model, accuracy = train(name)
    shipped = torch.load(ZOO[name].checkpoint_path, weights_only=True)
    trained = model.state_dict()
    assert shipped.keys() == trained.keys()
    for key in shipped:
        torch.testing.assert_close(trained[key], shipped[key], rtol=0, atol=1e-6, msg=key)
    assert accuracy >= 0.97
