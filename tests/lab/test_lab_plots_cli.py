"""Plots under Agg and the ``lrkit lab`` command: PNGs of sensible size, tables, JSON, errors."""

import json

import pytest

from lrkit import lab
from lrkit.cli.main import main
from lrkit.lab import objectives, plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_width=400, min_height=250):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000  # a real picture, not an empty canvas
    import matplotlib.image

    height, width = matplotlib.image.imread(path).shape[:2]
    assert width >= min_width and height >= min_height
    assert width <= 3000 and height <= 3000


def test_sweep_plot_shades_zones_and_draws_theory(tmp_path):
    r = lab.sweep("quadratic", "gd", num=60, steps=300)
    ax = plots.plot_sweep(r)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    for name in ("too low", "good", "too high", "1/L = 1", "2/(L+mu) = 1.98", "2/L = 2"):
        assert any(label.startswith(name) for label in labels), name
    vertical = {round(line.get_xdata()[0], 6) for line in ax.get_lines()
                if len(set(line.get_xdata())) == 1}
    assert {1.0, round(2 / 1.01, 6), 2.0} <= vertical
    assert len(ax.patches) >= 3  # the shaded zones
    plots.save(ax, tmp_path / "sweep.png")
    assert_png(tmp_path / "sweep.png")


def test_path_decay_compare_plots(tmp_path):
    fig = plots.plot_path(lab.path("beale", "adam", (1e-2, 1e-1), steps=100))
    assert len(fig.axes) == 2
    plots.save(fig, tmp_path / "path.png")
    assert_png(tmp_path / "path.png")
    fig = plots.plot_path(lab.path(objectives.quadratic(dim=5), "gd", (0.5,), steps=50))
    assert len(fig.axes) == 1  # no contours beyond two dimensions
    plots.save(fig, tmp_path / "path5.png")
    fig = plots.plot_decay(lab.decay(steps=200, seeds=2))
    plots.save(fig, tmp_path / "decay.png")
    assert_png(tmp_path / "decay.png")
    fig = plots.plot_compare(lab.compare("quadratic", ("gd", "adam"), steps=50, num=10))
    plots.save(fig, tmp_path / "compare.png")
    assert_png(tmp_path / "compare.png")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sweep_prints_theory_against_measurement(tmp_path, capsys):
    out_png = tmp_path / "s.png"
    code, out, _ = run_cli(capsys, "lab", "sweep", "--objective", "quadratic", "--kappa", "100",
                           "--optimizer", "gd", "--num", "40", "--steps", "300",
                           "--out", str(out_png))
    assert code == 0
    assert "theory 2/(L+mu)" in out and "best measured" in out and "too low" in out
    assert f"plot: {out_png}" in out
    assert_png(out_png)


def test_cli_json_outputs(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "lab", "sweep", "--num", "20", "--steps", "100", "--json",
                           "--out", "none")
    assert code == 0
    payload = json.loads(out)
    assert payload["plot"] is None and len(payload["lrs"]) == 20
    assert payload["theory"]["2/L"] == 2.0

    code, out, _ = run_cli(capsys, "lab", "path", "--objective", "rosenbrock", "--optimizer",
                           "adam", "--lr", "1e-3", "3e-2", "3e-1", "--steps", "100", "--json",
                           "--out", str(tmp_path / "p.png"))
    runs = json.loads(out)["runs"]
    assert [r["lr"] for r in runs] == [1e-3, 3e-2, 3e-1]
    assert_png(tmp_path / "p.png")

    code, out, _ = run_cli(capsys, "lab", "decay", "--steps", "200", "--seeds", "2",
                           "--schedule", "cosine(200)", "--json", "--out", "none")
    payload = json.loads(out)
    assert payload["schedule"] == "cosine(200)" and payload["noise_floor"] > 0

    code, out, _ = run_cli(capsys, "lab", "compare", "--objective", "saddle", "--optimizers",
                           "gd", "adam", "--steps", "60", "--num", "8", "--json", "--out", "none")
    names = [o["optimizer"] for o in json.loads(out)["optimizers"]]
    assert names == ["gd", "adam"]


@pytest.mark.parametrize("argv,message", [
    (["sweep", "--objective", "rosenbrock", "--kappa", "3"],
     "`--kappa` does not apply to objective 'rosenbrock'"),
    (["sweep", "--lr-min", "1", "--lr-max", "0.1"],
     "`--lr-min` must be below `--lr-max`, but got --lr-min 1 and --lr-max 0.1"),
    # the bound the user did not give is named as the default it is
    (["sweep", "--lr-min", "5"], "but got --lr-min 5 and --lr-max 4 (the default --lr-max "
                                 "for gd on this objective)"),
    (["path", "--lr", "0"], "`--lr` must be > 0, but got --lr=0.0"),
    (["path", "--lr", "1e300"], "`--lr` must be <= 1e+100"),
    (["decay", "--schedule", "cosine("], "`--schedule` must be a schedule expression"),
    (["decay", "--seeds", "0"], "`--seeds` must be a positive integer, but got --seeds=0"),
    (["sweep", "--steps", "0"], "`--steps` must be a positive integer, but got --steps=0"),
    (["sweep", "--kappa", "0"], "`--kappa` must be > 0, but got --kappa=0.0"),
    (["compare", "--num", "1"], "`--num` must be an integer >= 2, but got --num=1"),
    (["sweep", "--optimizer", "adam", "--momentum", "0.9"],
     "`--momentum` is not a hyperparameter of 'adam'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, "lab", *argv, "--out", "none")
    assert code == 2
    assert message in err and err.count("\n") == 1
    # the message names the action, as its --help does
    assert err.startswith(f"lrkit lab {argv[0]}: error: ")


def test_cli_sweep_where_every_rate_diverged_says_so_and_offers_no_best(capsys):
    code, out, err = run_cli(capsys, "lab", "sweep", "--lr-min", "3", "--lr-max", "10",
                             "--num", "4", "--steps", "100", "--out", "none")
    assert code == 0
    assert "none: every rate diverged" in out and "good zone" not in out
    assert "every rate of the sweep diverged" in err
    code, out, err = run_cli(capsys, "lab", "sweep", "--lr-min", "3", "--lr-max", "10",
                             "--num", "4", "--steps", "100", "--out", "none", "--json")
    payload = json.loads(out)
    assert set(payload["zones"]) == {"too high"} and payload["best_lr"] == "nan"


def test_cli_out_none_draws_nothing(capsys, monkeypatch):
    drawn = []
    for name in ("plot_sweep", "plot_path", "plot_decay", "plot_compare"):
        monkeypatch.setattr(plots, name, lambda *a, _n=name, **k: drawn.append(_n))
    for argv in (["sweep", "--num", "5", "--steps", "5"], ["path", "--steps", "5"],
                 ["decay", "--steps", "5", "--seeds", "1"],
                 ["compare", "--num", "2", "--steps", "5", "--optimizers", "gd"]):
        code, out, err = run_cli(capsys, "lab", *argv, "--out", "none")
        assert code == 0, err
    assert drawn == []


def test_cli_decay_marks_diverged_runs(tmp_path, capsys):
    code, out, err = run_cli(capsys, "lab", "decay", "--objective", "rosenbrock", "--steps",
                             "200", "--lr", "0.1", "--out", "none")
    assert code == 0, err
    rows = {line.split()[0] + " " + line.split()[1]: line for line in out.splitlines()
            if line.startswith(("constant", "decayed"))}
    assert all(line.split()[-1] == "yes" for line in rows.values()), out
    assert "try a smaller --lr" in out
    code, out, err = run_cli(capsys, "lab", "decay", "--steps", "200", "--seeds", "2",
                             "--out", "none", "--json")
    assert json.loads(out)["diverged"] == {"constant lr": 0, "constant lr*0.1": 0, "decayed": 0}


def test_decay_on_exact_gradients_runs_once_at_the_curvature_of_the_start(capsys):
    """Audit case: Rosenbrock with the defaults diverged in every run (the optimizer's
    default rate, 0.1, on a valley of curvature 1500) as a 'mean of 8 seeds' of one
    deterministic curve."""
    r = lab.decay("rosenbrock", steps=200)
    objective = objectives.make("rosenbrock")
    assert r.seeds == 1
    assert r.lr == pytest.approx(1 / objective.curvature_at(objective.x0))
    assert set(r.diverged.values()) == {0}
    code, out, err = run_cli(capsys, "lab", "decay", "--objective", "rosenbrock", "--steps",
                             "200", "--out", "none")
    assert code == 0 and "one run each" in out and "mean of" not in out


def test_decay_counts_diverged_seeds_and_the_legend_says_so():
    r = lab.decay("noisy-quadratic", "gd", 50.0, steps=50, seeds=2)
    assert set(r.diverged.values()) == {2}
    labels = plots.plot_decay(r).axes[0].get_legend_handles_labels()[1]
    assert labels[0] == "constant lr (diverged)"


def test_path_contour_panel_has_axis_labels():
    fig = plots.plot_path(lab.path("rosenbrock", "adam", [1e-2], steps=20))
    contour = fig.axes[0]
    assert (contour.get_xlabel(), contour.get_ylabel()) == ("x[0]", "x[1]")


def test_sweep_plot_of_huge_rates_does_not_overflow(recwarn):
    import numpy as np

    r = lab.sweep("quadratic", "gd", lrs=np.geomspace(1.0, 1e200, 3), steps=3)
    plots.plot_sweep(r)
    assert not [w for w in recwarn if "overflow" in str(w.message)]
