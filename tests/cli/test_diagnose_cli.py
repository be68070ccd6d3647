"""``lrkit diagnose LOG``: CSV and JSONL logs, the table, --json and the plot."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lrkit.cli.main import main


def write_csv(path, losses, lrs=None):
    with open(path, "w") as f:
        f.write("step,loss" + (",lr" if lrs is not None else "") + "\n")
        for t, loss in enumerate(losses):
            f.write(f"{t * 10},{loss}" + (f",{lrs[t]}" if lrs is not None else "") + "\n")


def healthy(n=200):
    rng = np.random.default_rng(0)
    return 0.1 + 2 * np.exp(-np.arange(n) / 20) + 0.05 * rng.standard_normal(n)


def test_csv_log_prints_the_verdict_changes_and_writes_the_plot(tmp_path, capsys):
    losses = list(healthy()) + [math.nan] * 5
    log = tmp_path / "log.csv"
    write_csv(log, losses, lrs=[0.1 * (1 - t / 205) for t in range(205)])
    png = tmp_path / "plot.png"
    assert main(["diagnose", str(log), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "non_finite_loss" in out and "overall: diverged" in out
    assert "2000" in out  # the log's own step numbers (step = 10 * row)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_jsonl_log_with_grad_norm_and_json_output(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    with open(log, "w") as f:
        for t, loss in enumerate(healthy()):
            f.write(json.dumps({"step": t, "loss": float(loss), "grad_norm": 1.0, "lr": 0.1}) + "\n")
            if t % 50 == 0:
                f.write(json.dumps({"step": t, "eval_loss": 0.3}) + "\n")  # rows without loss
    assert main(["diagnose", str(log), "--json", "--out", "none"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["steps"] == 200 and payload["plot"] is None
    assert payload["status"] in ("ok", "plateau")
    assert sum(payload["counts"].values()) == 200
    assert payload["changes"][0] == {"step": 0, "status": "ok", "cause": "ok", "factor": 1.0,
                                     "detail": ""}


@pytest.mark.parametrize("content,needle", [
    ("step,value\n0,1.0\n", "'loss' column"),
    ("step,value\n0,1.0\n", "with columns 'step', 'value'"),  # what it found instead
    ("step,loss\n0,abc\n", "`loss` must be a number"),
    ('{"loss": 1.0}\n{"loss": true}\n', "`loss` must be a number in every row, but got loss=True"),
    ('{"loss": 1.0}\nnot json\n', "one JSON object per line"),
    # counted as the file's lines (the header is line 1), which is where an editor goes
    ("step,loss\n0,1.0\n1,0.9\n2,0.8\n1,0.85\n", "step 1 after step 2 on line 5"),
    ("step,loss\n0,1.0\nnan,0.9\n", "`step` must be a whole number in every row, but got step='nan'"),
    ("step,loss\n0,1.0\n1.5,0.9\n", "`step` must be a whole number in every row, but got step='1.5'"),
    ("step,loss\n0," + "1" * 200_000 + "\n", "must be a CSV file with a header"),
    (b"\xff\xfes\x00t\x00e\x00p\x00", "which is not UTF-8 text"),  # UTF-16, or binary
])
def test_bad_logs_give_a_one_line_error_and_exit_2(tmp_path, capsys, content, needle):
    log = tmp_path / ("log.jsonl" if str(content).startswith("{") else "log.csv")
    if isinstance(content, bytes):
        log.write_bytes(content)
    else:
        log.write_text(content)
    assert main(["diagnose", str(log), "--out", "none"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_a_header_with_spaces_after_the_commas_is_read(tmp_path, capsys):
    # audit case: "step, loss" was read as a column named " loss"
    log = tmp_path / "log.csv"
    log.write_text("step, loss\n" + "".join(f"{i}, {1.0 / (i + 1):.4f}\n" for i in range(60)))
    assert main(["diagnose", str(log), "--json", "--out", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 60


def test_a_byte_order_mark_does_not_hide_the_first_column(tmp_path, capsys):
    # Excel and PowerShell write one: the first column had been read as '\ufeffstep'
    log = tmp_path / "log.csv"
    log.write_bytes(("step,loss\n" + "".join(f"{100 * i},{1.0 / (i + 1):.4f}\n"
                                               for i in range(60))).encode("utf-8-sig"))
    assert main(["diagnose", str(log), "--json", "--out", "none"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["steps"] == 60 and payload["changes"][0]["step"] == 0
    log.write_bytes(b"\xef\xbb\xbfloss\n1.0\n0.5\n")
    assert main(["diagnose", str(log), "--json", "--out", "none"]) == 0


def test_missing_file_and_bad_window(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "nope.csv")]) == 2
    assert "must be an existing file" in capsys.readouterr().err
    log = tmp_path / "log.csv"
    write_csv(log, healthy())
    assert main(["diagnose", str(log), "--window", "2", "--out", "none"]) == 2
    assert "`--window` must be" in capsys.readouterr().err
    # 8 and 9 were accepted, and a window that small never gave a trend verdict
    assert main(["diagnose", str(log), "--window", "9", "--out", "none"]) == 2
    assert "`--window` must be an integer >= 10" in capsys.readouterr().err


def test_loss_column_reads_a_lightning_style_metrics_file(tmp_path, capsys):
    log = tmp_path / "metrics.csv"
    with open(log, "w") as f:
        f.write("epoch,step,train_loss,val_loss\n")
        for t, loss in enumerate(healthy(120)):
            f.write(f"0,{t},{loss},\n")
        f.write("0,119,,0.3\n")  # a validation row
    assert main(["diagnose", str(log), "--loss-column", "train_loss", "--json", "--out", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 120
    assert main(["diagnose", str(log), "--out", "none"]) == 2
    assert "'loss' column" in capsys.readouterr().err


def test_jsonl_null_loss_is_nan_so_a_divergence_is_not_a_plateau(tmp_path, capsys):
    # pandas' to_json writes NaN as null; a row without the key is still skipped
    log = tmp_path / "log.jsonl"
    with open(log, "w") as f:
        for t, loss in enumerate(healthy(400)):
            f.write(json.dumps({"step": t, "loss": None if t >= 250 else float(loss)}) + "\n")
            if t % 100 == 0:
                f.write(json.dumps({"step": t, "val_loss": 0.3}) + "\n")
    assert main(["diagnose", str(log), "--json", "--out", "none"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["steps"] == 400 and payload["status"] == "diverged"
    assert payload["changes"][-1]["step"] == 250
    assert payload["changes"][-1]["cause"] == "non_finite_loss"


def test_without_an_lr_column_the_rate_is_unknown_not_constant(tmp_path, capsys):
    rng = np.random.default_rng(0)
    flat = 1.0 + 0.01 * rng.standard_normal(300)
    log = tmp_path / "flat.csv"
    write_csv(log, flat)
    assert main(["diagnose", str(log), "--out", "none"]) == 0
    out = capsys.readouterr().out
    assert "plateau" in out
    assert "at a held rate" not in out and "the rate is unknown" in out
    write_csv(log, flat, lrs=[0.1] * 300)
    assert main(["diagnose", str(log), "--out", "none"]) == 0
    assert "at a held rate" in capsys.readouterr().out


def test_the_documented_example_log(capsys):
    from pathlib import Path

    log = Path(__file__).parents[2] / "examples" / "train_log.csv"
    assert main(["diagnose", str(log), "--out", "none"]) == 0
    out = capsys.readouterr().out
    assert "overall: diverged" in out and "\n251 " in out
