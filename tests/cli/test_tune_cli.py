"""``lrkit tune`` and ``lrkit worker`` from the command line."""

from __future__ import annotations

import json

import optuna
import pytest

from lrkit.cli.main import main
from lrkit.tuning.storage import open_storage


def tune_args(tmp_path, *extra):
    return ["tune", "--problem", "quadratic", "--steps", "30", "--storage",
            str(tmp_path / "t.journal"), "--out", str(tmp_path / "tune.png"), *extra]


def test_json_shape_plot_and_best_rate(tmp_path, capsys):
    assert main(tune_args(tmp_path, "--n-trials", "6", "--json")) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"best_lr", "best_value", "study", "counts", "cost", "trials", "storage", "plot"} <= set(payload)
    assert payload["study"] == "tune-quadratic-seed0"
    assert len(payload["trials"]) == 6
    row = payload["trials"][0]
    assert {"number", "lr", "state", "value", "steps", "note"} <= set(row)
    assert 1e-5 <= payload["best_lr"] <= 10.0
    assert payload["plot"] == str(tmp_path / "tune.png")
    png = (tmp_path / "tune.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_large_valid_seed_works_with_optunas_samplers(tmp_path, capsys, sampler):
    # the worker's sampler seed (seed * 100003 + pid) had passed numpy's 2**32 bound
    assert main(tune_args(tmp_path, "--n-trials", "2", "--seed", "4294967295", "--sampler",
                          sampler, "--json")) == 0
    assert len(json.loads(capsys.readouterr().out)["trials"]) == 2


def test_table_and_resume_by_rerunning(tmp_path, capsys):
    assert main(tune_args(tmp_path, "--n-trials", "3")) == 0
    out = capsys.readouterr().out
    assert "trial" in out and "best lr =" in out and "3 " in out
    assert main(tune_args(tmp_path, "--n-trials", "5", "--json")) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [t["number"] for t in payload["trials"]] == [0, 1, 2, 3, 4]


def test_worker_joins_an_existing_study(tmp_path, capsys):
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "shared")) == 0
    capsys.readouterr()
    storage = str(tmp_path / "t.journal")
    study = optuna.load_study(study_name="shared", storage=open_storage(storage))
    study.set_user_attr("lrkit:n_trials", 4)  # more work appears; a worker picks it up
    assert main(["worker", "--storage", storage, "--study", "shared", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ran_here"] == 2 and payload["n_trials"] == 4


def test_worker_needs_an_existing_lrkit_study(tmp_path, capsys):
    assert main(["worker", "--storage", str(tmp_path / "x.journal"), "--study", "nope"]) == 2
    assert "`--study`" in capsys.readouterr().err


def test_worker_on_a_missing_journal_file_does_not_create_it(tmp_path, capsys):
    journal = tmp_path / "typo.journal"
    assert main(["worker", "--storage", str(journal), "--study", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no journal file" in err and err.count("\n") == 1
    assert not journal.exists()


def test_two_local_workers(tmp_path, capsys):
    assert main(tune_args(tmp_path, "--n-trials", "4", "--workers", "2", "--json")) == 0
    payload = json.loads(capsys.readouterr().out)
    assert 4 <= len(payload["trials"]) <= 5
    assert all(t["state"] in ("complete", "pruned", "diverged") for t in payload["trials"])


@pytest.mark.parametrize(("extra", "name"), [
    (["--n-trials", "0"], "--n-trials"),
    (["--workers", "0"], "--workers"),
    (["--budget", "-1"], "--budget"),
    (["--lr-range", "1", "0.1"], "--lr-range"),
    (["--seed", "-3"], "--seed"),
    (["--schedule", "nope(3)"], "--schedule"),
    (["--heartbeat", "30", "--grace", "10"], "--grace"),
    (["--study", ""], "--study"),
    (["--storage", " "], "--storage"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, name):
    assert main(tune_args(tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert f"`{name}`" in err and err.count("\n") == 1
    if name == "--grace":
        assert "--grace=10" in err and "--heartbeat=30" in err
    assert not (tmp_path / "t.journal").exists()  # nothing left behind, not even an empty file


def test_unknown_problem(tmp_path, capsys):
    assert main(["tune", "--problem", "nope", "--storage", str(tmp_path / "t.journal")]) == 2
    err = capsys.readouterr().err
    assert "`--problem` must be a registered name" in err and "--problem='nope'" in err
    assert not (tmp_path / "t.journal").exists()


def test_a_problem_file_is_quoted_as_typed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.py").write_text("def make():\n    raise RuntimeError('boom')\n")
    assert main(["tune", "--problem", "mine.py:make", "--storage", "t.journal"]) == 2
    err = capsys.readouterr().err
    assert "`--problem` 'mine.py:make'" in err and str(tmp_path) not in err


def test_a_range_at_or_above_a_divergence_stops_with_one_line_and_exit_2(tmp_path, capsys):
    """--lr-range 1 5 on the quadratic (its 200 steps diverge at lr=1 within 10 steps): the
    audit saw six trials, all at lr=1 and all diverged."""
    assert main(tune_args(tmp_path, "--n-trials", "6", "--lr-range", "1", "5", "--steps", "200")) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "new study with a lower range" in captured.err
    assert "`--lr-range` must reach below the lowest rate that diverged" in captured.err
    assert "--lr-range=(1, 5)" in captured.err
    study = optuna.load_study(study_name="tune-quadratic-seed0",
                              storage=open_storage(str(tmp_path / "t.journal")))
    assert [t.params["lr"] for t in study.trials] == [1.0]


def test_resuming_with_another_lr_range_is_rejected(tmp_path, capsys):
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "rr1")) == 0
    capsys.readouterr()
    assert main(tune_args(tmp_path, "--n-trials", "4", "--study", "rr1",
                          "--lr-range", "1e-4", "1e-3")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "must stay (1e-05, 10)" in err and "--lr-range=(0.0001, 0.001)" in err
    assert "omit `--lr-range` to resume it, or use another `--study`" in err
    assert main(tune_args(tmp_path, "--n-trials", "3", "--study", "rr1", "--json")) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["trials"]) == 3  # without --lr-range the stored range is kept


def test_sampler_and_pruner_have_help(capsys):
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--sampler {lrkit,tpe,random} how rates are proposed" in out
    assert "--pruner {lrkit,median,none} how trials are stopped early" in out


def test_worker_says_trial_for_one(tmp_path, capsys):
    assert main(tune_args(tmp_path, "--n-trials", "1", "--study", "one")) == 0
    capsys.readouterr()
    storage = str(tmp_path / "t.journal")
    study = optuna.load_study(study_name="one", storage=open_storage(storage))
    study.set_user_attr("lrkit:n_trials", 2)
    assert main(["worker", "--storage", storage, "--study", "one"]) == 0
    assert "ran 1 trial of study one" in capsys.readouterr().out


def test_worker_rejects_an_empty_study_name(tmp_path, capsys):
    assert main(["worker", "--storage", str(tmp_path / "t.journal"), "--study", ""]) == 2
    err = capsys.readouterr().err
    assert "`--study` must not be empty" in err and err.count("\n") == 1


def test_resuming_keeps_the_steps_and_rejects_other_steps(tmp_path, capsys):
    """Re-running without --steps took the problem's 200 steps and re-running with another
    --steps rewrote the stored run length: the study's cost jumped (1.75 to 2.33 runs) with
    no trial run, and trials of different lengths were raced against each other."""
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "st", "--json")) == 0
    before = json.loads(capsys.readouterr().out)["cost"]
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "st", "--steps", "20")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`--steps` must stay 30" in err and "--steps=20" in err
    storage = str(tmp_path / "t.journal")
    args = ["tune", "--problem", "quadratic", "--storage", storage, "--study", "st",
            "--out", "none", "--json"]
    assert main(args + ["--n-trials", "2"]) == 0  # --steps omitted: the stored 30 is kept
    assert json.loads(capsys.readouterr().out)["cost"] == pytest.approx(before)
    study = optuna.load_study(study_name="st", storage=open_storage(storage))
    assert study.user_attrs["lrkit:total_steps"] == 30


def test_resuming_with_another_schedule_or_seed_is_rejected(tmp_path, capsys):
    assert main(tune_args(tmp_path, "--n-trials", "1", "--study", "ss",
                          "--schedule", "cosine(30)", "--seed", "3")) == 0
    capsys.readouterr()
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "ss", "--schedule", "constant()",
                          "--seed", "3")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`--schedule` must stay 'cosine(30)'" in err
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "ss", "--seed", "4")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`--seed` must stay 3" in err
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "ss", "--out", "none")) == 0
    study = optuna.load_study(study_name="ss", storage=open_storage(str(tmp_path / "t.journal")))
    assert study.user_attrs["lrkit:schedule"] == "cosine(30)" and study.user_attrs["lrkit:seed"] == 3
    assert len(study.trials) == 2


def test_resuming_a_default_schedule_study_with_a_schedule_is_rejected(tmp_path, capsys):
    """Audit case: the default schedule (None) was never stored, so a resume with
    --schedule was taken for a new study and mixed schedules in one study."""
    assert main(tune_args(tmp_path, "--n-trials", "1", "--study", "sd")) == 0
    capsys.readouterr()
    assert main(tune_args(tmp_path, "--n-trials", "2", "--study", "sd",
                          "--schedule", "constant()")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`--schedule` must stay the default" in err
    study = optuna.load_study(study_name="sd", storage=open_storage(str(tmp_path / "t.journal")))
    assert study.user_attrs["lrkit:schedule"] is None and len(study.trials) == 1


def test_resuming_without_a_stopping_rule_keeps_the_stored_budget(tmp_path, capsys):
    """Audit case: a study created with --budget 1 and resumed with neither --budget nor
    --n-trials ran on to the default 20 trials."""
    assert main(tune_args(tmp_path, "--budget", "1", "--study", "sb", "--json")) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(tune_args(tmp_path, "--study", "sb", "--json")) == 0
    again = json.loads(capsys.readouterr().out)
    assert len(again["trials"]) == len(first["trials"]) and again["cost"] <= 1.0 + 1e-9
    study = optuna.load_study(study_name="sb", storage=open_storage(str(tmp_path / "t.journal")))
    assert study.user_attrs["lrkit:budget"] == 1.0 and study.user_attrs["lrkit:n_trials"] is None


def _resume(tmp_path, capsys, *rule):
    storage = str(tmp_path / "r.journal")
    assert main(["tune", "--problem", "quadratic", *rule, "--storage", storage, "--out", "none",
                 "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_resuming_with_more_trials_ends_on_a_closing_run_of_its_own(tmp_path, capsys):
    # audit case: only one closing run per study, ever; after --n-trials 6 then 9 the
    # leading pruned rate (0.178, four times better) was never finished
    first = _resume(tmp_path, capsys, "--n-trials", "6")
    again = _resume(tmp_path, capsys, "--n-trials", "9")
    assert len(again["trials"]) == 9
    closing = [t for t in again["trials"] if t["note"] == "closing run of the best rate"]
    assert len(closing) == 2 and closing[-1]["number"] == 8
    assert again["best_value"] < first["best_value"] / 2
    assert again["best_lr"] == pytest.approx(0.1778, rel=1e-3)


def test_resuming_with_a_larger_budget_runs_on(tmp_path, capsys):
    # audit case: a finished closing run ended a budget study for good
    first = _resume(tmp_path, capsys, "--budget", "2")
    again = _resume(tmp_path, capsys, "--budget", "4")
    assert first["cost"] <= 2 + 1e-9 < 3 < again["cost"] <= 4 + 1e-9
    assert len(again["trials"]) > len(first["trials"])


def test_resuming_without_sampler_pruner_heartbeat_or_grace_keeps_the_stored_ones(tmp_path,
                                                                                 capsys):
    # audit case: the CLI's defaults were written over them, so the study went on with
    # lrkit's sampler and pruner and a 10 s heartbeat
    assert main(tune_args(tmp_path, "--n-trials", "2", "--sampler", "random", "--pruner", "none",
                          "--heartbeat", "30", "--grace", "180", "--json")) == 0
    assert main(tune_args(tmp_path, "--n-trials", "3", "--json")) == 0
    capsys.readouterr()
    attrs = optuna.load_study(study_name="tune-quadratic-seed0",
                              storage=open_storage(str(tmp_path / "t.journal"))).user_attrs
    assert (attrs["lrkit:sampler"], attrs["lrkit:pruner"]) == ("random", "none")
    assert (attrs["lrkit:heartbeat_interval"], attrs["lrkit:grace_period"]) == (30.0, 180.0)
    # given again, they change; a grace under twice the stored heartbeat is refused
    assert main(tune_args(tmp_path, "--n-trials", "3", "--grace", "50")) == 2
    assert "`--grace` must be at least twice `--heartbeat`" in capsys.readouterr().err


def test_a_heartbeat_given_alone_is_checked_against_the_default_grace_before_anything_is_written(
        tmp_path, capsys):
    assert main(tune_args(tmp_path, "--heartbeat", "40")) == 2
    assert "(the default --grace=60)" in capsys.readouterr().err
    assert not (tmp_path / "t.journal").exists()


def test_worker_refuses_quiet_with_json(capsys):
    # audit case: --quiet --json printed nothing and exited 0
    with pytest.raises(SystemExit) as info:
        main(["worker", "--storage", "x.journal", "--study", "s", "--quiet", "--json"])
    assert info.value.code == 2
    assert "argument --json: not allowed with argument --quiet" in capsys.readouterr().err


def test_a_seed_the_samplers_cannot_take_is_refused_before_the_study_is_created(tmp_path, capsys):
    # review case: 2**32 passed the check and failed inside the worker with numpy's message
    assert main(tune_args(tmp_path, "--seed", str(2**32))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`--seed` must be < 2**32" in err
    assert not (tmp_path / "t.journal").exists()


def test_workers_that_all_crash_fail_the_command(tmp_path, capsys):
    problem = tmp_path / "bad.py"
    problem.write_text(
        "from lrkit.problems import get\n"
        "import dataclasses\n"
        "def make():\n"
        "    def loss_fn(model, batch):\n"
        "        raise RuntimeError('bug in the loss')\n"
        "    return dataclasses.replace(get('quadratic'), name='bad', loss_fn=loss_fn)\n")
    code = main(["tune", "--problem", f"{problem}:make", "--n-trials", "2", "--workers", "2",
                 "--storage", str(tmp_path / "t.journal"), "--out", "none"])
    out, err = capsys.readouterr()
    assert code == 1  # it had been 0, as if all were well
    assert "workers exited with status" in err
    assert "no trial finished: see the errors above" in out
    assert "lower --lr-range" not in out  # nothing diverged
