"""``lrkit bench``: its argument checks and the bar chart's capped bars (the full runs are
tested in test_auto_cli.py)."""

from __future__ import annotations

import math

import pytest

from lrkit.bench.methods import MethodRun
from lrkit.bench.runner import BenchResult, Cell
from lrkit.cli.commands import bench as command
from lrkit.cli.main import main


def fake_result(ratios: dict[tuple[str, str], float]) -> BenchResult:
    problems = tuple(dict.fromkeys(p for p, _ in ratios))
    methods = tuple(dict.fromkeys(m for _, m in ratios))
    cells = tuple(Cell(p, m, tuple(MethodRun(held_out=r, runs=1.0) for _ in range(4)),
                       grid_best=1.0, grid_best_lr=0.1) for (p, m), r in ratios.items())
    return BenchResult(problems, methods, (0, 1, 2, 3), cells)


@pytest.fixture()
def no_runs(monkeypatch):
    """Fail if the bench would start running."""
    import lrkit.bench

    def refuse(*args, **kwargs):
        raise AssertionError("the bench ran")

    monkeypatch.setattr(lrkit.bench, "run_bench", refuse)


def test_a_problem_named_twice_is_refused_before_any_run(no_runs, capsys):
    assert main(["bench", "--problem", "quadratic", "logistic", "quadratic", "--methods",
                 "default", "--out", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lrkit bench: error: `--problem` must name each problem once, but got "
                   "quadratic logistic quadratic (quadratic more than once)"]



def test_all_with_other_problems_is_refused_naming_all(no_runs, capsys):
    # audit case: the message said 'all' was not a registered name
    assert main(["bench", "--problem", "all", "quadratic", "--out", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lrkit bench: error: `--problem` must be 'all' alone or a list of problems, "
                   "but got all quadratic"]

@pytest.mark.parametrize("out", ["bench.png", "table.txt"])
def test_out_must_be_markdown(no_runs, out, capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "--problem", "quadratic", "--out", out])
    assert info.value.code == 2
    assert "argument --out: unsupported format" in capsys.readouterr().err


def test_out_in_a_directory_and_without_an_extension(tmp_path, monkeypatch, capsys):
    import lrkit.bench

    result = fake_result({("quadratic", "default"): 1.2})
    monkeypatch.setattr(lrkit.bench, "run_bench", lambda *a, **k: result)
    assert main(["bench", "--problem", "quadratic", "--methods", "default",
                 "--out", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / 'bench.md'} and {tmp_path / 'bench.png'}" in capsys.readouterr().out
    assert main(["bench", "--problem", "quadratic", "--methods", "default",
                 "--out", str(tmp_path / "results")]) == 0
    assert (tmp_path / "results.md").is_file() and (tmp_path / "results.png").is_file()


def test_capped_bars_show_their_value():
    from lrkit.bench.plot import plot_ratios

    result = fake_result({("a", "auto"): 1.05, ("a", "default"): 50.0,
                          ("b", "auto"): math.inf, ("b", "default"): 2.0})
    ax = plot_ratios(result, cap=command.CAP)
    command._mark_capped(ax, result, command.CAP)
    marks = sorted(t.get_text() for t in ax.texts)
    assert marks == ["\u2192 50", "\u2192 diverged"]
    assert ax.get_ylim()[1] > command.CAP


def test_markdown_title_says_what_was_compared():
    # audit case: a bench without auto was titled "lrkit auto against other ways ..."
    from lrkit.bench.table import markdown

    without = markdown(fake_result({("p", "default"): 2.0, ("p", "finder"): 1.2}))
    assert without.startswith("## Ways of picking the rate, side by side")
    assert "Targets for lrkit auto" not in without
    with_auto = markdown(fake_result({("p", "auto"): 1.0, ("p", "default"): 2.0}))
    assert with_auto.startswith("## lrkit auto against other ways of picking the rate")
