import numpy as np
import pytest
import torch

from syncact.ann import get_reducer
from syncact.exceptions import ConfigError, UnknownNameError


@pytest.fixture
def maps(rng):
    return torch.from_numpy(rng.standard_normal((3, 5, 7, 6)).astype(np.float32))


def test_reducers_match_numpy(maps):
    flat = maps.numpy().reshape(3, 5, -1)
    expected = {
        "max": flat.max(-1),
        "mean": flat.mean(-1),
        "l2": np.sqrt((flat**2).mean(-1)),
        "topk:4": np.sort(flat, -1)[..., -4:].mean(-1),
        "topk:1": flat.max(-1),
        "topk:999": flat.mean(-1),  # more than the map holds: all values
    }
    for spec, ref in expected.items():
        np.testing.assert_allclose(get_reducer(spec)(maps).numpy(), ref, rtol=1e-5, atol=1e-6, err_msg=spec)


def test_reducers_on_tokens_and_half_precision(maps):
    tokens = maps.flatten(2)  # (batch, channels, n) works as well as (batch, channels, h, w)
    np.testing.assert_allclose(get_reducer("max")(tokens).numpy(), get_reducer("max")(maps).numpy())
    half = get_reducer("mean")(maps.bfloat16())
    assert half.dtype == torch.float32
    np.testing.assert_allclose(half.numpy(), get_reducer("mean")(maps).numpy(), atol=2e-2)


def test_reducer_names_are_canonical_and_checked():
    assert get_reducer("topk").spec == "topk:5"
    assert get_reducer("topk:12").spec == "topk:12"
    with pytest.raises(UnknownNameError, match="maxx.*Did you mean 'max'"):
        get_reducer("maxx")
    with pytest.raises(ConfigError, match="topk:0"):
        get_reducer("topk:0")
    with pytest.raises(ConfigError, match="topk:a"):
        get_reducer("topk:a")
    with pytest.raises(ConfigError, match="no parameter"):
        get_reducer("max:3")
    with pytest.raises(ValueError, match="channels"):
        get_reducer("max")(torch.zeros(3, 4))
