"""neurodeploy.signals (papers/000's signal conversions) on hand-made arrays, and the data sets built with them."""
import numpy as np
import pytest
import torch

from neurodeploy.errors import InputError
from neurodeploy.ir.ops import OPS
from neurodeploy.signals import image_to_spikes, spikes_to_binary_image, spikes_to_intensity_image

# one sample, T = 4 steps, 1 channel, 1 x 3 cells: cell 0 fires at steps 0 and 3, cell 1 at step 1, cell 2 never
TRAIN = np.zeros((1, 4, 1, 1, 3), np.float32)
TRAIN[0, [0, 3], 0, 0, 0] = 1
TRAIN[0, 1, 0, 0, 1] = 1


def test_image_to_spikes_is_the_rate_encoders_reference_in_the_data_set_layout():
    images = np.array([[[0.0, 0.3, 1.0]], [[0.5, 0.9, 2.0]]], np.float32)  # [N = 2, 1, 3]
    for distribution in ("bernoulli", "poisson"):
        spikes = image_to_spikes(images, 6, distribution, gain=1.0, seed=3)
        attrs = {"num_steps": 6, "distribution": distribution, "gain": 1.0, "seed": 3}
        reference = OPS["RateEncode"].ref([images], attrs)[0]  # [T, N, ...]
        assert spikes.shape == (2, 6, 1, 3) and spikes.dtype == np.float32
        np.testing.assert_array_equal(spikes, np.moveaxis(reference, 0, 1))
    bernoulli = image_to_spikes(images, 6)
    assert bernoulli[0, :, 0, 0].sum() == 0 and bernoulli[0, :, 0, 2].all() and bernoulli[1, :, 0, 2].all()


def test_image_to_spikes_equals_the_torch_encoder_in_eval_mode():
    from neurodeploy.nn import RateEncode

    images = np.random.default_rng(0).random((5, 1, 4, 4), dtype=np.float32)
    encoder = RateEncode(8, distribution="bernoulli", seed=0).eval()
    expected = encoder(torch.from_numpy(images)).numpy()  # [T, N, ...]
    np.testing.assert_array_equal(image_to_spikes(images, 8, seed=0), np.moveaxis(expected, 0, 1))


def test_image_to_spikes_rates_follow_the_intensity():
    spikes = image_to_spikes(np.full((1, 1000), 0.25, np.float32), 40)
    assert abs(spikes.mean() - 0.25) < 0.01
    poisson = image_to_spikes(np.full((1, 1000), 1.0, np.float32), 40, "poisson")
    assert abs(poisson.mean() - (1 - np.exp(-1.0))) < 0.01


def test_binary_image_is_the_or_over_windows_stacked_as_channels():
    two = spikes_to_binary_image(TRAIN, window=2)  # windows {0, 1} and {2, 3}
    assert two.shape == (1, 2, 1, 3)
    np.testing.assert_array_equal(two[0, :, 0], [[1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(spikes_to_binary_image(TRAIN, window=1)[0, :, 0], TRAIN[0, :, 0, 0])
    np.testing.assert_array_equal(spikes_to_binary_image(TRAIN, window=4)[0, 0, 0], [1, 1, 0])


def test_binary_image_channel_order_is_window_major():
    trains = np.zeros((1, 2, 2, 1, 1), np.float32)  # T = 2, C = 2 (OFF, ON)
    trains[0, 0, 1] = 1  # ON at step 0
    trains[0, 1, 0] = 3  # an OFF count at step 1 counts as a spike
    np.testing.assert_array_equal(spikes_to_binary_image(trains, 1).reshape(-1), [0, 1, 1, 0])


def test_intensity_image_normalizations():
    np.testing.assert_array_equal(spikes_to_intensity_image(TRAIN)[0, 0, 0], [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(spikes_to_intensity_image(TRAIN, "steps")[0, 0, 0], [0.5, 0.25, 0.0])
    silent = spikes_to_intensity_image(np.zeros((2, 3, 4), np.float32))
    assert silent.shape == (2, 4) and not silent.any()
    per_sample = np.concatenate([TRAIN, 2 * TRAIN])  # each sample normalized by its own largest count
    np.testing.assert_array_equal(spikes_to_intensity_image(per_sample)[:, 0, 0], [[1.0, 0.5, 0.0]] * 2)


@pytest.mark.parametrize("call, message", [
    (lambda: spikes_to_binary_image(TRAIN, 3), "window=3 must be a whole number >= 1 that divides T = 4"),
    (lambda: spikes_to_binary_image(np.zeros((2, 4)), 1), "must be \\[N, T, C, ...\\]"),
    (lambda: spikes_to_intensity_image(TRAIN, "mean"), "normalize='mean'"),
    (lambda: spikes_to_intensity_image(np.zeros(3)), "must be \\[N, T, \\*shape\\]"),
    (lambda: image_to_spikes(np.zeros((2, 2)), 0), "num_steps=0"),
    (lambda: image_to_spikes(np.zeros((2, 2)), 4, "gauss"), "distribution='gauss'"),
])
def test_bad_arguments_are_refused_with_the_reason(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_event_image_data_sets():
    from neurodeploy.data import load_dataset

    events = load_dataset("digits-events")
    binary, intensity = load_dataset("digits-events-binary"), load_dataset("digits-events-intensity")
    assert binary.input_shape == (6, 11, 11) and intensity.input_shape == (2, 11, 11)
    np.testing.assert_array_equal(binary.x_test[:3], spikes_to_binary_image(events.x_test[:3], 4))
    np.testing.assert_array_equal(intensity.x_test[:3], spikes_to_intensity_image(events.x_test[:3]))
    assert set(np.unique(binary.x_train)) == {0.0, 1.0} and intensity.x_train.max() == 1.0
    np.testing.assert_array_equal(binary.y_test, events.y_test)


def test_bernoulli_digits_hold_the_encoders_spikes_of_the_test_split():
    from neurodeploy.data import load_dataset
    from neurodeploy.nn import RateEncode

    digits, spikes = load_dataset("digits"), load_dataset("digits-bernoulli")
    assert spikes.input_shape == (8, 1, 8, 8) and set(np.unique(spikes.x_test)) == {0.0, 1.0}
    encoded = RateEncode(8, seed=0).eval()(torch.from_numpy(digits.x_test)).numpy()
    np.testing.assert_array_equal(spikes.x_test, np.moveaxis(encoded, 0, 1))
