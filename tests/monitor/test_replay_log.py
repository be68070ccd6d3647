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
    assert known and all(d.endswith("at a constant rate") for d in known)
