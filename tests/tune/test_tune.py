"""lrkit.tune end to end on tiny objectives: search, divergence as PRUNED, budget, resume,
storages, and interoperability with plain Optuna and optuna-dashboard."""

from __future__ import annotations

import math
import multiprocessing

import optuna
import pytest

import lrkit
from lrkit.tuning import tune

STEPS = 40


def gd_objective(trial):
    """Gradient descent on f(w) = w**2 from w=3: diverges for lr > 1, best near lr = 0.5."""
    w = 3.0
    for step in range(STEPS):
        w -= trial.lr * 2 * w
        trial.report(step, w * w)
    return w * w + 0.01 * abs(math.log10(trial.lr / 0.5))


def test_lrkit_tune_is_the_function():
    assert lrkit.tune is tune
    result = lrkit.tune(gd_objective, n_trials=10, total_steps=STEPS, lr_range=(1e-4, 10.0))
    assert 0.25 < result.best_lr < 0.9
    assert result.study.best_trial.params["lr"] == result.best_lr
    assert len(result.trials) == 10


def test_divergence_is_pruned_with_its_rate_never_failed():
    result = tune(gd_objective, n_trials=12, total_steps=STEPS, lr_range=(1e-4, 10.0), start=3.0)
    states = {t.state for t in result.study.trials}
    assert optuna.trial.TrialState.FAIL not in states
    diverged = [t for t in result.study.trials if t.user_attrs.get("lrkit:diverged")]
    assert diverged and all(t.state == optuna.trial.TrialState.PRUNED for t in diverged)
    assert all(t.params["lr"] > 1.0 for t in diverged)
    assert all(t.value == math.inf for t in diverged)  # its value is recorded, not lost
    # a diverging run stops within a few steps instead of running to the end
    assert all(t.user_attrs["lrkit:steps"] < STEPS for t in diverged)


def test_non_finite_final_value_counts_as_divergence():
    def objective(trial):
        return math.nan if trial.lr > 0.1 else trial.lr

    result = tune(objective, n_trials=4, lr_range=(1e-3, 1.0), start=0.5)
    assert result.counts.get("diverged", 0) >= 1
    assert result.best_lr <= 0.1


def test_a_worker_whose_trial_was_reaped_while_it_ran_drops_it_and_goes_on():
    # a worker that was only slow (suspended past the grace period) finds, at its next report,
    # that a reaper failed its trial: it must drop that result, not crash
    reaped = []

    def objective(trial):
        if trial.number == 1:
            storage = trial.optuna.study._storage
            storage.set_trial_state_values(trial.optuna._trial_id,
                                           state=optuna.trial.TrialState.FAIL)
            reaped.append(trial.number)
            trial.optuna.report(1.0, 0)  # what Trial.report's next write does
        return gd_objective(trial)

    result = tune(objective, n_trials=4, total_steps=STEPS, lr_range=(1e-4, 10.0), pruner="none")
    assert reaped == [1]
    states = [t.state for t in result.study.trials]
    assert states[1] == optuna.trial.TrialState.FAIL
    # the worker went on: 4 trials besides the dropped one ran to their end
    assert len(states) == 5 and optuna.trial.TrialState.RUNNING not in states
    assert [row["state"] for row in result.trials].count("failed") == 1
    from lrkit.tuning import plot_trials  # and the plot draws it (it keyed on "failed")

    labels = {t.get_text() for t in plot_trials(result).get_legend().get_texts()}
    assert any(label.startswith("failed") for label in labels)


def test_a_last_trial_with_no_leader_to_close_on_is_not_called_a_closing_run():
    def objective(trial):
        raise optuna.TrialPruned()  # no trial ever leads

    notes = [row["note"] for row in tune(objective, n_trials=3, lr_range=(1e-3, 1.0)).trials]
    assert notes[-1] == "last trial, run to the end"
    assert "closing run of the best rate" not in notes


def test_a_trial_reaped_just_before_its_tell_is_dropped_too(monkeypatch):
    # the last window: after the trial's last write, before study.tell
    original = optuna.trial.Trial.set_user_attr

    def reaped_after_steps(self, key, value):
        original(self, key, value)
        if key == "lrkit:steps" and self.number == 1:
            self.study._storage.set_trial_state_values(self._trial_id,
                                                       state=optuna.trial.TrialState.FAIL)

    monkeypatch.setattr(optuna.trial.Trial, "set_user_attr", reaped_after_steps)
    result = tune(gd_objective, n_trials=3, total_steps=STEPS, lr_range=(1e-4, 10.0),
                  pruner="none")
    assert result.study.trials[1].state == optuna.trial.TrialState.FAIL
    assert len(result.study.trials) == 4


def test_objective_errors_fail_the_trial_and_propagate():
    def objective(trial):
        raise RuntimeError("bug in user code")

    with pytest.raises(RuntimeError, match="bug in user code"):
        tune(objective, n_trials=3, lr_range=(1e-3, 1.0), storage=None, study_name="boom")


@pytest.mark.parametrize("budget", [1.0, 2.5, 4.0])
def test_budget_in_full_run_equivalents_is_never_exceeded(budget):
    result = tune(gd_objective, budget=budget, total_steps=STEPS, lr_range=(1e-4, 10.0))
    steps = sum(t.user_attrs["lrkit:steps"] for t in result.study.trials)
    assert steps <= budget * STEPS
    assert steps >= (budget - 1.5) * STEPS  # and it is used
    assert result.cost == pytest.approx(steps / STEPS)
    # the study ends with its best rate run to the end (a COMPLETE trial)
    assert result.study.best_trial.params["lr"] == result.best_lr


def test_small_n_trials_still_ends_with_a_complete_best_trial():
    result = tune(gd_objective, n_trials=5, total_steps=STEPS, lr_range=(1e-4, 10.0))
    best = result.study.best_trial
    assert best.params["lr"] == result.best_lr
    final = [t for t in result.study.trials if t.user_attrs.get("lrkit:final")]
    assert len(final) <= 1 and len(result.study.trials) == 5


def test_same_budget_for_the_optuna_baselines():
    for sampler, pruner in (("tpe", "median"), ("random", "none")):
        result = tune(gd_objective, budget=3.0, total_steps=STEPS, lr_range=(1e-4, 10.0),
                      sampler=sampler, pruner=pruner, seed=0)
        assert result.cost <= 3.0 + 1e-9


def test_rerun_resumes_the_study(tmp_path):
    storage = str(tmp_path / "study.journal")
    first = tune(gd_objective, n_trials=4, total_steps=STEPS, storage=storage, study_name="s")
    again = tune(gd_objective, n_trials=7, total_steps=STEPS, storage=storage, study_name="s")
    assert len(first.trials) == 4
    assert len(again.trials) == 7
    numbers = [r["number"] for r in again.trials]
    assert numbers == list(range(7))
    done = tune(gd_objective, n_trials=7, total_steps=STEPS, storage=storage, study_name="s")
    assert len(done.trials) == 7  # nothing left to do


def _journal_worker(path: str, name: str) -> None:
    tune(gd_objective, n_trials=12, total_steps=STEPS, storage=path, study_name=name,
         lr_range=(1e-4, 10.0))


def test_several_processes_share_one_journal_study(tmp_path):
    path = str(tmp_path / "shared.journal")
    tune(gd_objective, n_trials=1, total_steps=STEPS, storage=path, study_name="shared",
         lr_range=(1e-4, 10.0))  # a resumed study keeps its range
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_journal_worker, args=(path, "shared")) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(path)))
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == len(study.trials)
    assert 12 <= len(study.trials) <= 13  # two workers may each start the last trial


def test_sqlite_url_and_plain_optuna_load_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    result = tune(gd_objective, n_trials=5, total_steps=STEPS, storage=url, study_name="sq",
                  metadata={"note": "from a test"})
    study = optuna.load_study(study_name="sq", storage=url)
    assert len(study.trials) == 5
    assert study.user_attrs["note"] == "from a test"
    assert study.user_attrs["lrkit:total_steps"] == STEPS
    assert study.best_trial.params["lr"] == result.best_lr


def test_optuna_dashboard_reads_an_lrkit_journal_study(tmp_path):
    from optuna_dashboard._inmemory_cache import InMemoryCache
    from optuna_dashboard._storage import get_studies, get_trials
    from optuna_dashboard._storage_url import get_storage

    path = str(tmp_path / "dash.journal")
    tune(gd_objective, n_trials=4, total_steps=STEPS, storage=path, study_name="dash")
    storage = get_storage(path)
    studies = get_studies(storage)
    assert [s.study_name for s in studies] == ["dash"]
    trials = get_trials(InMemoryCache(), storage, studies[0]._study_id)
    assert len(trials) == 4 and all("lr" in t.params for t in trials)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({}, "n_trials"), ({"n_trials": 0}, "n_trials"), ({"n_trials": 2, "lr_range": (1.0, 0.1)}, "lr_range"),
     ({"n_trials": 2, "lr_range": (-1, 1)}, "lr_range"), ({"budget": 2.0}, "total_steps"),
     ({"n_trials": 2, "sampler": "grid"}, "sampler"), ({"n_trials": 2, "pruner": "hyperband"}, "pruner"),
     ({"n_trials": 2, "storage": 3}, "storage"),
     ({"n_trials": 2, "heartbeat_interval": 30.0, "grace_period": 10.0}, "grace_period"),
     ({"n_trials": 2, "study_name": ""}, "study_name"), ({"n_trials": 2, "study_name": 5}, "study_name"),
     ({"n_trials": 2, "metadata": [1, 2]}, "metadata"),
     ({"n_trials": 2, "metadata": {"lrkit:total_steps": 5}}, "metadata"),
     ({"n_trials": 2, "metadata": {"when": object()}}, "metadata")],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        tune(gd_objective, **kwargs)


def test_objective_must_be_callable():
    with pytest.raises(TypeError, match="`objective`"):
        tune("not a function", n_trials=1)


def test_extra_dimensions_are_searched_too():
    def objective(trial):
        family = trial.suggest_categorical("schedule", ["constant", "decay"])
        value = gd_objective(trial)
        return value + (0.5 if family == "constant" else 0.0)

    result = tune(objective, n_trials=14, total_steps=STEPS, lr_range=(1e-4, 10.0), seed=0)
    assert result.best_params["schedule"] == "decay"
    assert set(result.best_params) == {"lr", "schedule"}


def test_problem_objective_matches_problems_train():
    from lrkit.problems import train
    from lrkit.tuning import problem_objective

    result = tune(problem_objective("quadratic", steps=30), n_trials=1, total_steps=30,
                  lr_range=(1e-3, 1.0), start=0.03, pruner="none")
    assert result.best_value == pytest.approx(train("quadratic", 0.03, steps=30).held_out, rel=1e-6)


def test_problem_objective_steps_an_lbfgs_problem_as_problems_train_does():
    from lrkit.problems import train
    from lrkit.tuning import problem_objective
    from tests.problems.helpers import tiny_regression

    problem = tiny_regression(lbfgs=True)
    result = tune(problem_objective(problem, steps=10), n_trials=1, total_steps=10,
                  lr_range=(1e-3, 1.0), start=0.5, pruner="none")
    assert result.best_value == pytest.approx(train(problem, 0.5, steps=10).held_out, rel=1e-6)


def test_plot_marks_pruned_and_diverged(tmp_path):
    from lrkit.tuning import plot_trials

    result = tune(gd_objective, n_trials=10, total_steps=STEPS, lr_range=(1e-4, 10.0), start=3.0)
    ax = plot_trials(result)
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "diverged" in labels and "complete" in labels
    path = tmp_path / "t.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_storage_urls_raise_one_line_errors(tmp_path, monkeypatch):
    from lrkit.tuning import storage as storage_module

    with pytest.raises(ValueError, match="bogus://x"):
        storage_module.open_storage("bogus://x")
    monkeypatch.setattr(storage_module.time, "sleep", lambda s: None)
    url = f"sqlite:///{tmp_path}/no/such/dir/x.db"
    with pytest.raises(ConnectionError, match="could not open the database") as info:
        storage_module.open_storage(url)
    assert "\n" not in str(info.value)


def test_a_numpy_lr_range_works_and_a_resumed_budget_study_keeps_its_total_steps(tmp_path):
    import numpy as np

    path = str(tmp_path / "b.journal")
    first = tune(gd_objective, budget=2, total_steps=STEPS, storage=path, study_name="b",
                 lr_range=np.array([1e-4, 10.0]))
    # resumed with a larger budget and no total_steps: the stored one is the unit
    again = tune(gd_objective, budget=3, storage=path, study_name="b")
    assert first.cost <= 2 + 1e-9 < again.cost <= 3 + 1e-9


def test_a_database_that_refuses_is_not_retried_and_a_bad_port_is_named(monkeypatch):
    from lrkit.tuning import storage as storage_module

    attempts = []
    real = optuna.storages.RDBStorage

    def counting(*args, **kwargs):
        attempts.append(kwargs.get("engine_kwargs"))
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", counting)
    pytest.importorskip("psycopg2")
    with pytest.raises(ConnectionError, match="could not open the database"):
        storage_module.open_storage("postgresql+psycopg2://postgres@127.0.0.1:1/x")
    # refused: one attempt, not eight with back-off (13 s); and libpq's timeout is set
    assert len(attempts) == 1
    assert attempts[0]["connect_args"] == {"connect_timeout": storage_module.CONNECT_TIMEOUT}
    with pytest.raises(ValueError, match="`storage` must be a file path or a SQLAlchemy URL.*"
                                         "invalid literal for int"):
        storage_module.open_storage("postgresql+psycopg2://u@127.0.0.1:notaport/db")


def _open_sqlite_after(barrier, path, results):
    from lrkit.tuning.storage import open_storage

    barrier.wait()
    try:
        open_storage(f"sqlite:///{path}")
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_a_read_only_database_is_not_retried(tmp_path, monkeypatch):
    # an error with a statement (here: writing the tables) is retried only when it is a race
    from lrkit.tuning import storage as storage_module

    attempts = []
    real = optuna.storages.RDBStorage

    def counting(*args, **kwargs):
        attempts.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", counting)
    path = tmp_path / "ro.db"
    path.touch()
    with pytest.raises(ConnectionError, match="could not open the database"):
        storage_module.open_storage(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert len(attempts) == 1


def test_simultaneous_first_opens_of_one_sqlite_file_all_succeed(tmp_path):
    # losing the CREATE TABLE race is an OperationalError on SQLite ("table ... already
    # exists"): it must be retried, unlike a refused connection
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        path = tmp_path / f"race{attempt}.db"
        barrier, results = context.Barrier(4), context.Queue()
        workers = [context.Process(target=_open_sqlite_after, args=(barrier, path, results))
                   for _ in range(4)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
        assert outcomes == ["ok"] * 4


@pytest.mark.timeout(60)
def test_a_server_that_never_answers_times_out(monkeypatch):
    # it accepts the connection and says nothing: without a connect timeout, a hang for ever
    import socket
    import threading

    pytest.importorskip("psycopg2")
    from lrkit.tuning import storage as storage_module

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    monkeypatch.setattr(storage_module, "CONNECT_TIMEOUT", 1)
    port = server.getsockname()[1]
    try:
        with pytest.raises(ConnectionError, match="could not open the database"):
            storage_module.open_storage(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/x")
    finally:
        server.close()


def test_a_file_that_is_not_a_journal_is_named(tmp_path):
    from lrkit.tuning.storage import open_storage

    log = tmp_path / "train_log.csv"
    log.write_text("step,loss\n0,1.0\n")
    with pytest.raises(ValueError, match="journal file"):
        open_storage(str(log))
    assert log.read_text() == "step,loss\n0,1.0\n"


def test_heartbeat_longer_than_the_grace_period_is_rejected_naming_both():
    with pytest.raises(ValueError, match="grace_period=10 and heartbeat_interval=30"):
        tune(gd_objective, n_trials=2, heartbeat_interval=30.0, grace_period=10.0)


def test_the_best_rate_is_the_one_better_where_trials_were_compared():
    """Audit case: trial 0 at 1e-3 stopped at the first rung because it was alone there;
    the closing run finished 5.6e-4, which got further but was worse at that rung. On this
    quadratic a larger rate (far below 2/L) is better at every step."""
    from lrkit.problems import train
    from lrkit.tuning import problem_objective

    result = tune(problem_objective("quadratic"), n_trials=6, total_steps=200,
                  lr_range=(1e-4, 1e-3), start=1e-2)
    assert result.best_lr == pytest.approx(1e-3)
    assert result.study.best_trial.params["lr"] == result.best_lr  # finished by the closing run
    assert result.best_value == pytest.approx(train("quadratic", 1e-3).held_out, rel=1e-6)


def test_no_rate_left_below_a_divergence_stops_at_once(tmp_path):
    """lr_range=(1.5, 5) on a problem that diverges above lr=1: once the bottom of the range
    has diverged every rate left is above it; the audit saw six trials at one rate."""
    path = str(tmp_path / "high.journal")
    with pytest.raises(ValueError, match="`lr_range` must reach below the lowest rate that diverged"):
        tune(gd_objective, n_trials=6, total_steps=STEPS, lr_range=(1.5, 5.0), start=3.0,
             storage=path, study_name="high")
    study = optuna.load_study(study_name="high", storage=lrkit.tuning.open_storage(path))
    assert [t.params["lr"] for t in study.trials] == [3.0, 1.5]  # start, then the bottom
    assert all(t.user_attrs["lrkit:diverged"] for t in study.trials)


def test_resuming_with_another_lr_range_is_rejected_and_none_keeps_the_stored_one(tmp_path):
    path = str(tmp_path / "range.journal")
    tune(gd_objective, n_trials=2, total_steps=STEPS, lr_range=(1e-3, 1.0), storage=path,
         study_name="r")
    with pytest.raises(ValueError, match=r"must stay \(0.001, 1\).*lr_range=\(0.0001, 0.001\)"):
        tune(gd_objective, n_trials=4, total_steps=STEPS, lr_range=(1e-4, 1e-3), storage=path,
             study_name="r")
    result = tune(gd_objective, n_trials=5, total_steps=STEPS, storage=path, study_name="r")
    assert len(result.trials) == 5
    assert all(1e-3 <= row["lr"] <= 1.0 for row in result.trials)


def test_an_interrupted_trial_is_failed_as_interrupted_and_retried_on_resume(tmp_path):
    """Ctrl-C in the middle of a trial (KeyboardInterrupt, exit 130 in the CLI) left the
    trial FAIL with no reason and no retry; a killed worker's trial gets both."""
    path = str(tmp_path / "int.journal")
    calls = []

    def objective(trial):
        calls.append(trial.lr)
        if len(calls) == 2:
            trial.report(0, 1.0)
            raise KeyboardInterrupt
        return gd_objective(trial)

    with pytest.raises(KeyboardInterrupt):
        tune(objective, n_trials=4, total_steps=STEPS, lr_range=(1e-4, 10.0), storage=path,
             study_name="int")
    storage = lrkit.tuning.open_storage(path)
    trials = optuna.load_study(study_name="int", storage=storage).get_trials()
    assert trials[1].state == optuna.trial.TrialState.FAIL
    assert trials[1].system_attrs["lrkit:failed_reason"] == "interrupted"
    assert trials[2].state == optuna.trial.TrialState.WAITING
    assert trials[2].system_attrs["lrkit:retry_of"] == 1 and trials[2].params == trials[1].params
    result = tune(objective, n_trials=4, total_steps=STEPS, storage=path, study_name="int")
    rows = {row["number"]: row for row in result.trials}
    assert rows[1]["note"] == "interrupted"
    assert rows[2]["note"] == "retry of #1" and rows[2]["state"] in ("complete", "pruned")
    assert calls[2] == calls[1]  # the interrupted rate was run again


def test_diverged_note_shows_the_loss_with_4_significant_digits():
    from lrkit.tuning.runner import summarize

    trial = optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED, params={"lr": 0.3},
        distributions={"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)},
        intermediate_values={15: math.inf},
        user_attrs={"lrkit:diverged": True, "lrkit:diverged_loss": repr(833.1978759765625),
                    "lrkit:diverged_step": 15})
    assert summarize([trial], 200)[0]["note"] == "loss 833.2 at step 15"


def test_a_plain_postgresql_url_names_an_installed_driver(monkeypatch):
    import importlib.util

    from lrkit.tuning import storage as storage_module

    installed = {"psycopg2"}
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real(name, *a) if name in installed else None)
    url = "postgresql://user:p%40ss@db.example:5433/lrkit"
    assert storage_module.with_installed_driver(url) == \
        "postgresql+psycopg2://user:p%40ss@db.example:5433/lrkit"
    assert storage_module.with_installed_driver("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert storage_module.with_installed_driver("sqlite:///x.db") == "sqlite:///x.db"
    installed.clear()  # no driver at all: the URL is kept and the error says what to install
    assert storage_module.with_installed_driver(url) == url
    import builtins

    real_import = builtins.__import__

    def no_drivers(name, *args, **kwargs):
        if name.split(".")[0] in ("psycopg", "psycopg2"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_drivers)
    with pytest.raises(ImportError, match="needs a database driver.*install psycopg2 or psycopg") as info:
        storage_module.open_storage(url)
    assert "p%40ss" not in str(info.value) and "\n" not in str(info.value)


def _trial_under_a_pruner_that_always_cuts(report_every):
    """An lrkit Trial whose study's pruner cuts it at every write."""
    from lrkit.tuning.trial import Trial

    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    study = optuna.create_study(pruner=AlwaysPrune())
    return Trial(study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 10, log=True)}),
                 total_steps=100, report_every=report_every, prune=True)


def test_a_trial_cut_by_the_pruner_while_blowing_up_is_recorded_as_diverged():
    # the pruner may cut a trial before `patience` reports above the blow-up limit have
    # confirmed a divergence; it must not end as a plain pruned trial with a finite value
    from lrkit.tuning.trial import Diverged

    trial = _trial_under_a_pruner_that_always_cuts(report_every=1)
    with pytest.raises(optuna.TrialPruned) as healthy:
        trial.report(0, 1.0)
    assert not isinstance(healthy.value, Diverged) and not trial.diverged
    with pytest.raises(Diverged):
        trial.report(1, 1e5)
    assert trial.diverged and trial.optuna.user_attrs["lrkit:diverged"] is True


def test_one_noisy_batch_above_the_limit_when_cut_is_not_a_divergence():
    # the window written at the cut averages four losses; one batch above the blow-up limit
    # (first 1.0, limit 5.0) in a window whose mean is below it is noise, not a blow-up
    from lrkit.tuning.trial import Diverged

    trial = _trial_under_a_pruner_that_always_cuts(report_every=4)
    for step, loss in enumerate([1.0, 0.9, 0.8]):
        trial.report(step, loss)
    with pytest.raises(optuna.TrialPruned) as cut:
        trial.report(3, 6.0)  # mean of the window: 2.175
    assert not isinstance(cut.value, Diverged) and not trial.diverged


def test_resuming_keeps_total_steps_and_rejects_another(tmp_path):
    """A resumed study's ``total_steps`` was overwritten: ``None`` dropped its budget unit
    (cost None, no rungs) and another value rescaled the cost of the trials already run."""
    journal = str(tmp_path / "steps.journal")
    first = tune(gd_objective, n_trials=3, total_steps=STEPS, storage=journal, study_name="ts")
    with pytest.raises(ValueError, match=r"`total_steps` must stay 40 .* total_steps=20"):
        tune(gd_objective, n_trials=4, total_steps=20, storage=journal, study_name="ts")
    again = tune(gd_objective, n_trials=3, storage=journal, study_name="ts")
    assert again.cost == pytest.approx(first.cost)
    assert again.study.user_attrs["lrkit:total_steps"] == STEPS


def test_resuming_with_a_grace_shorter_than_running_workers_heartbeat_is_rejected(tmp_path):
    # a worker that joined with a 10 s heartbeat is still running a trial: a 5 s grace
    # would fail its live trial as stale, so the resume is refused, naming both values
    storage = str(tmp_path / "study.log")
    tune(gd_objective, n_trials=2, total_steps=STEPS, storage=storage, study_name="s",
         heartbeat_interval=10.0)
    from lrkit.tuning.storage import open_storage

    optuna.load_study(storage=open_storage(storage), study_name="s").ask()  # still running
    with pytest.raises(ValueError, match=r"grace_period=5 .*\(10 s\)|\(10 s\).*grace_period=5"):
        tune(gd_objective, n_trials=3, total_steps=STEPS, storage=storage, study_name="s",
             heartbeat_interval=1.0, grace_period=5.0)


def test_resuming_with_new_heartbeat_settings_applies_them_when_no_trial_runs(tmp_path):
    storage = str(tmp_path / "study.log")
    tune(gd_objective, n_trials=2, total_steps=STEPS, storage=storage, study_name="s",
         heartbeat_interval=10.0)
    result = tune(gd_objective, n_trials=3, total_steps=STEPS, storage=storage, study_name="s",
                  heartbeat_interval=1.0, grace_period=5.0)
    attrs = result.study.user_attrs
    assert (attrs["lrkit:heartbeat_interval"], attrs["lrkit:grace_period"]) == (1.0, 5.0)


def test_the_last_trial_waits_for_running_trials_before_choosing_the_closing_run(tmp_path):
    """Audit case: with --workers 2, the closing run was chosen while another worker's trial
    (the eventual leader) was still running, and finished a worse rate instead."""
    import threading
    import time

    from lrkit.tuning.pruner import DivergencePruner
    from lrkit.tuning.runner import Settings, run_worker
    from lrkit.tuning.sampler import LRSampler
    from lrkit.tuning.storage import create_or_load_study, open_storage

    storage = open_storage(str(tmp_path / "study.journal"))
    study = create_or_load_study(storage, "s", sampler=LRSampler(seed=0),
                                 pruner=DivergencePruner(total_steps=STEPS))
    other = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 10.0, log=True)})
    settings = Settings(lr_range=(1e-4, 10.0), n_trials=2, total_steps=STEPS,
                        poll_interval=0.05, final_run=True)
    worker = threading.Thread(target=run_worker, args=(study, gd_objective, settings),
                              daemon=True)
    worker.start()
    time.sleep(1.0)
    started_meanwhile = len(study.get_trials(deepcopy=False)) - 1
    study.tell(other, 0.5)
    worker.join(timeout=60)
    # the next trial would be the last: the worker waited for the running one
    assert started_meanwhile == 0
    assert not worker.is_alive()
    assert len(study.get_trials(deepcopy=False)) == 2


@pytest.mark.parametrize("objective, message", [
    (lambda trial: None, r"`objective\(trial\)` must be a number, but got objective\(trial\)=None"),
    (lambda trial: "x", r"`objective\(trial\)` must be a number, but got objective\(trial\)='x'"),
    (lambda trial: (trial.report(0, "x"), 1.0)[1], "`loss` must be a number, but got loss='x'"),
])
def test_an_objective_that_returns_no_number_is_named(objective, message):
    with pytest.raises(TypeError, match=message):
        tune(objective, n_trials=1, lr_range=(1e-3, 1.0))


@pytest.mark.parametrize("seed, error, message", [
    ("x", TypeError, "`seed` must be an integer"),
    (-1, ValueError, "`seed` must be an integer >= 0"),
    (2**40, ValueError, r"`seed` must be < 2\*\*32"),
])
def test_a_bad_seed_is_named(seed, error, message):
    with pytest.raises(error, match=message):
        tune(gd_objective, n_trials=1, seed=seed)
