"""``lrkit auto`` and ``lrkit bench`` from the command line, on a tiny user problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lrkit.cli.main import main

TINY = Path(__file__).parent.parent / "bench" / "tiny_problem.py"


@pytest.fixture()
def problem_spec(tmp_path):
    path = tmp_path / "tiny_problem.py"
    shutil.copy(TINY, path)
    return f"{path}:make_problem"


def test_auto_json_shape(problem_spec, tmp_path, capsys):
    png = tmp_path / "auto.png"
    assert main(["auto", "--problem", problem_spec, "--json", "--out", str(png)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["problem"] == "tiny-regression"
    assert payload["steps"] == 40 and payload["budget_steps"] == 60
    assert payload["steps_spent"] <= 60 and payload["runs"] == pytest.approx(payload["steps_spent"] / 40)
    assert payload["lr"] > 0 and isinstance(payload["held_out"], float)
    assert [d["phase"] for d in payload["history"]][:2] == ["edge", "race"]
    assert len(payload["lrs"]) == len(payload["losses"]) == 40
    assert payload["plot"] == str(png) and png.stat().st_size > 1000


def test_auto_text_report(problem_spec, tmp_path, capsys):
    assert main(["auto", "--problem", problem_spec, "--out", "none", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for line in ("chosen rate", "cost", "held-out loss", "decisions:"):
        assert line in out
    assert not (tmp_path / "auto.png").exists()


def test_auto_bad_input_is_one_line_and_exit_2(problem_spec, capsys):
    assert main(["auto", "--problem", problem_spec, "--budget", "0.5", "--out", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`--budget`" in err[0]
    assert main(["auto", "--problem", "no-such-problem"]) == 2


def test_bench_writes_markdown_and_png(problem_spec, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LRKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "bench.md"
    assert main(["bench", "--problem", problem_spec, "--methods", "default", "auto",
                 "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["methods"] == ["default", "auto"]
    assert payload["summary"]["auto"]["cost_runs"] <= 1.5
    assert "| tiny-regression |" in out.read_text()
    assert out.with_suffix(".png").exists()
    assert main(["bench", "--problem", problem_spec, "--methods", "nope"]) == 2


def test_bench_auto_budget(problem_spec, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LRKIT_CACHE", str(tmp_path / "cache"))
    assert main(["bench", "--problem", problem_spec, "--methods", "auto", "--auto-budget", "2.5",
                 "--out", "none", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert 1.5 < payload["summary"]["auto"]["cost_runs"] <= 2.5
    assert main(["bench", "--problem", problem_spec, "--methods", "auto", "--auto-budget", "0.5",
                 "--out", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--auto-budget" in err[0] and "0.5" in err[0]


def test_a_schedule_that_ends_early_is_one_warning_line(problem_spec, capsys):
    assert main(["auto", "--problem", problem_spec, "--schedule", "cosine(10)", "--json",
                 "--out", "none"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warned = [line for line in err if "warning" in line]
    assert warned == [warned[0]] and warned[0].startswith("lrkit auto: warning: the schedule cosine(10)")


def test_other_libraries_warnings_keep_their_own_form_and_the_hook_is_undone(capsys):
    import warnings

    from lrkit.cli.main import _one_line_warning
    from lrkit.schedules import ScheduleEndsEarlyWarning

    passed_on = []
    show = _one_line_warning("auto", lambda *args: passed_on.append(args[0]))
    show(DeprecationWarning("from somewhere else"), DeprecationWarning, "x.py", 1)
    show(ScheduleEndsEarlyWarning("ends early"), ScheduleEndsEarlyWarning, "y.py", 2)
    show(ScheduleEndsEarlyWarning("ends early"), ScheduleEndsEarlyWarning, "y.py", 2)
    assert [str(m) for m in passed_on] == ["from somewhere else"]  # not rewritten
    assert capsys.readouterr().err == "lrkit auto: warning: ends early\n"  # once
    before = warnings.showwarning
    assert main(["schedule", "list"]) == 0
    assert warnings.showwarning is before  # the hook was the command's only
