"""``read_log`` and ``diagnose`` on what logs really hold: JSON nulls, no rate column."""

from __future__ import annotations

import json
import math

import numpy as np

from lrkit.monitor import diagnose, read_log


def test_a_json_null_loss_is_nan_and_a_missing_key_is_skipped(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [{"step": 0, "loss": 1.0, "lr": 0.1}, {"step": 1, "val_loss": 0.5}, {"step": 1, "loss": None},
            {"step": 2, "loss": 0.5, "lr": None}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    read = read_log(log)
    assert read["step"].tolist() == [0, 1, 2]
    assert read["loss"][0] == 1.0 and math.isnan(read["loss"][1]) and read["loss"][2] == 0.5
    assert math.isnan(read["lr"][2])


def test_a_plateau_without_rates_does_not_claim_a_constant_rate():
    flat = 1.0 + 0.01 * np.random.default_rng(1).standard_normal(300)
    details = [c.detail for c in diagnose(flat).changes if c.status == "plateau"]
    assert details and all(d.endswith("(the rate is unknown: no lr was given)") for d in details)
    known = [c.detail for c in diagnose(flat, lrs=[0.1] * 300).changes if c.status == "plateau"]
    assert known and all(d.endswith("at a held rate (within 10% over the window)") for d in known)


def test_one_nan_or_one_spike_the_run_recovers_from_does_not_make_it_diverged():
    import numpy as np

    from lrkit.monitor import diagnose

    losses = 2.0 / (1 + 0.05 * np.arange(600))
    for fault in (float("nan"), 10 * losses[300]):
        faulty = losses.copy()
        faulty[300] = fault
        diagnosis = diagnose(faulty, lrs=[0.1] * 600)
        assert diagnosis.counts["diverged"] == 1  # still reported, at its step
        assert [c.step for c in diagnosis.changes if c.status == "diverged"] == [300]
        assert diagnosis.status == "ok" and diagnosis.factor == 1.0
    # ending on it, or diverging for longer, is a diverged run
    assert diagnose(np.append(losses, np.nan), lrs=[0.1] * 601).status == "diverged"
    twice = losses.copy()
    twice[[300, 400]] = np.nan
    assert diagnose(twice, lrs=[0.1] * 600).status == "diverged"


def test_a_warmup_is_not_a_plateau():
    import numpy as np

    from lrkit.monitor import diagnose

    # a flat start while the rate ramps up over 1000 steps: where the rate grows by more
    # than 10% over the 60-step window (the first ~550 steps) it is not held
    rng = np.random.default_rng(0)
    losses = 2.3 - 0.0001 * np.arange(1000) + 0.01 * rng.standard_normal(1000)
    lrs = np.linspace(1e-4, 0.1, 1000)
    assert "plateau" not in diagnose(losses, lrs=lrs).statuses[:550]


def test_float32_gaps_in_the_optional_columns_are_gaps():
    import numpy as np

    from lrkit.monitor import diagnose

    losses = 2.0 / (1 + 0.05 * np.arange(200))
    grads = np.full(200, 1.0, dtype=np.float32)
    grads[50] = np.nan  # a step the log has no gradient norm for
    lrs = np.full(200, 0.1, dtype=np.float32)
    lrs[60] = np.nan
    diagnosis = diagnose(losses, grad_norms=grads, lrs=lrs)
    assert diagnosis.counts["diverged"] == 0
