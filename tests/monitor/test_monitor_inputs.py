"""Monitor.update and load_state_dict name what is wrong with their input (audit cases: a
NaN or negative lr silently kept the verdict 'ok' forever; get_last_lr()'s list gave a bare
float() message; True and "1.5" were taken as losses)."""

from __future__ import annotations

import math

import pytest

from lrkit import Monitor


@pytest.mark.parametrize("kwargs, error, message", [
    ({"loss": None}, TypeError, "`loss` must be a number, but got loss=None"),
    ({"loss": "1.5"}, TypeError, "`loss` must be a number, but got loss='1.5'"),
    ({"loss": True}, TypeError, "`loss` must be a number, but got loss=True"),
    ({"loss": 1.0, "lr": [1e-3]}, TypeError, r"`lr` must be a number, but got lr=\[0.001\]"),
    ({"loss": 1.0, "lr": math.nan}, ValueError, "`lr` must be finite and >= 0, but got lr=nan"),
    ({"loss": 1.0, "lr": -1e-3}, ValueError, "`lr` must be finite and >= 0"),
    ({"loss": 1.0, "grad_norm": -1.0}, ValueError, r"`grad_norm` must be >= 0 \(a norm\)"),
    ({"loss": 1.0, "update_norm": "x"}, TypeError, "`update_norm` must be a number"),
])
def test_bad_input_is_named_and_does_not_count_as_a_step(kwargs, error, message):
    monitor = Monitor()
    with pytest.raises(error, match=message):
        monitor.update(**kwargs)
    assert monitor.state_dict()["step"] == 0


def test_a_nan_loss_or_gradient_is_still_divergence_not_bad_input():
    assert Monitor().update(math.nan).status == "diverged"
    assert Monitor().update(1.0, grad_norm=math.inf).status == "diverged"


def test_load_state_dict_names_missing_keys():
    with pytest.raises(ValueError, match="`state` must be a Monitor.state_dict"):
        Monitor().load_state_dict({})
    with pytest.raises(ValueError, match="without step"):
        state = Monitor().state_dict()
        del state["step"]
        Monitor().load_state_dict(state)


@pytest.mark.parametrize("scale", [1e-6, 1e-9, 1e-12])
def test_the_verdict_does_not_change_when_the_loss_is_scaled_down(scale):
    """Audit case: a slowly falling curve read 'too_low' at its own scale and 'plateau' once
    multiplied by 1e-9 or less: the noise floor was absolute."""
    import numpy as np

    def verdict(factor):
        monitor = Monitor()
        rng = np.random.default_rng(0)
        for t in range(300):
            result = monitor.update(factor * (1.0 / (1 + 0.002 * t) + 1e-3 * rng.standard_normal()),
                                    lr=1e-4)
        return result.status

    assert verdict(scale) == verdict(1.0) == "too_low"
