import numpy as np
import pytest
from scipy import stats

from syncact.exceptions import DataError, ShapeError
from syncact.sync import circular_correlation, circular_max, pearson_matrix, standardize


def test_pearson_matrix_equals_scipy(rng):
    x = rng.normal(size=(200, 4)) * rng.uniform(0.1, 100, 4) + 5
    y = rng.normal(size=(200, 6)) + 0.5 * x[:, :1]
    r = pearson_matrix(x, y)
    for i in range(4):
        for j in range(6):
            assert abs(r[i, j] - stats.pearsonr(x[:, i], y[:, j])[0]) < 1e-10


def test_circular_correlation_equals_rolled_pearson(rng):
    x, y = standardize(rng.normal(size=(50, 3))), standardize(rng.normal(size=(50, 2)))
    c = circular_correlation(x, y)
    for s in (0, 1, 17, 49):
        for i in range(3):
            for j in range(2):
                assert abs(c[i, j, s] - stats.pearsonr(np.roll(x[:, i], -s), y[:, j])[0]) < 1e-10


@pytest.mark.parametrize("absolute", [False, True])
@pytest.mark.parametrize("workers", [1, 3])
def test_circular_max_reduces_the_cube(rng, absolute, workers):
    # blocks cut the filters (300 columns > one 2 MB block of 8 rows at T = 150), the rows (19 > 8) and the threads
    x, y = standardize(rng.normal(size=(150, 19))), standardize(rng.normal(size=(150, 300)))
    cube = circular_correlation(x, y)[:, :, 15:136]
    cube = np.abs(cube) if absolute else cube
    best_y, best_x = circular_max(x, y, slice(15, 136), absolute=absolute, workers=workers)
    np.testing.assert_allclose(best_y, cube.max(axis=1), atol=1e-12)
    np.testing.assert_allclose(best_x, cube.max(axis=0), atol=1e-12)


def test_errors_name_the_problem(rng):
    with pytest.raises(ShapeError, match="same fMRI time points"):
        pearson_matrix(rng.normal(size=(10, 2)), rng.normal(size=(11, 2)))
    bad = rng.normal(size=(10, 2))
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="1 NaN"):
        pearson_matrix(bad, rng.normal(size=(10, 2)))
    const = rng.normal(size=(10, 3))
    const[:, 2] = 1.0
    with pytest.raises(DataError, match="constant"):
        pearson_matrix(rng.normal(size=(10, 2)), const)
