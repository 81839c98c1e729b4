"""Principal components fit on the training rows alone."""

import numpy as np
import pytest

from survsig.imaging.components import train_components


@pytest.fixture
def values_and_train():
    rng = np.random.default_rng(11)
    values = rng.normal(size=(50, 4)) @ np.diag([3.0, 2.0, 1.0, 0.5])
    train = np.arange(50) < 35
    return values, train


def test_axes_are_fit_on_the_training_rows(values_and_train):
    values, train = values_and_train
    projected = train_components(values, train, 2)
    assert projected.shape == (50, 2)
    # centred on the training rows, largest variance first, uncorrelated there
    np.testing.assert_allclose(projected[train].mean(axis=0), 0.0, atol=1e-12)
    variances = projected[train].var(axis=0)
    assert variances[0] > variances[1]
    assert abs(np.corrcoef(projected[train].T)[0, 1]) < 1e-10
    # other rows' values move their own projections only
    changed = values.copy()
    changed[~train] = 1e6
    np.testing.assert_allclose(train_components(changed, train, 2)[train], projected[train], atol=1e-12)


def test_sign_follows_the_largest_loading(values_and_train):
    values, train = values_and_train
    # the first axis is along the first column (SD 3): its projection grows with it
    projected = train_components(values, train, 1)
    assert np.corrcoef(projected[:, 0], values[:, 0])[0, 1] > 0.9
    assert np.corrcoef(train_components(-values, train, 1)[:, 0], values[:, 0])[0, 1] < -0.9


def test_directions_without_variance_are_left_out(values_and_train):
    values, train = values_and_train
    repeated = np.column_stack([values[:, :2], values[:, :2]])  # rank 2 in 4 columns
    assert train_components(repeated, train, 4).shape == (50, 2)
    assert train_components(values, train, 10).shape == (50, 4)  # no more than the columns
    assert train_components(values[:, :4], np.arange(50) < 3, 10).shape == (50, 2)  # nor the rows - 1
