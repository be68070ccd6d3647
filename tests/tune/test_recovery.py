"""Dead workers: a trial whose worker is gone is failed and its parameters retried, on the
journal storage (no database heartbeat there) and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from lrkit.tuning.recovery import pid_alive, reap_stale_trials, stale_reason
from lrkit.tuning.storage import open_storage

SLOW_PROBLEM = f"{Path(__file__).with_name('_slow_problem.py')}:make"

TrialState = optuna.trial.TrialState


def _running_trial(study, **system_attrs):
    trial = study.ask()
    trial.suggest_float("lr", 1e-3, 1.0, log=True)
    for key, value in system_attrs.items():
        study._storage.set_trial_system_attr(trial._trial_id, key, value)
    return trial


def test_stale_heartbeat_from_another_host_is_failed_and_retried(tmp_path):
    storage = open_storage(str(tmp_path / "s.journal"))
    study = optuna.create_study(storage=storage, study_name="s")
    old = _running_trial(study, **{"lrkit:host": "elsewhere", "lrkit:pid": 1,
                                    "lrkit:heartbeat": time.time() - 100})
    fresh = _running_trial(study, **{"lrkit:host": "elsewhere", "lrkit:pid": 2,
                                      "lrkit:heartbeat": time.time()})
    foreign = _running_trial(study)  # no heartbeat yet: left alone until seen so for the grace
    assert reap_stale_trials(study, grace_period=30, max_retries=2) == [old.number]
    trials = study.get_trials()
    assert trials[old.number].state == TrialState.FAIL
    assert "no heartbeat" in trials[old.number].system_attrs["lrkit:failed_reason"]
    assert trials[fresh.number].state == TrialState.RUNNING
    assert trials[foreign.number].state == TrialState.RUNNING
    retry = trials[-1]
    assert retry.state == TrialState.WAITING
    assert retry.params == trials[old.number].params
    assert retry.system_attrs["lrkit:retry_of"] == old.number
    # a second reaper finds nothing more to do (only one wins the FAIL write)
    assert reap_stale_trials(study, grace_period=30, max_retries=2) == []


def test_a_stale_heartbeat_under_the_reapers_own_pid_is_still_stale():
    # a worker restarted as pid 1 in its container meets its predecessor's trial: same host,
    # same pid, an old heartbeat
    import socket

    study = optuna.create_study()
    old = _running_trial(study, **{"lrkit:host": socket.gethostname(), "lrkit:pid": os.getpid(),
                                    "lrkit:heartbeat": time.time() - 3600})
    assert reap_stale_trials(study, grace_period=3, max_retries=2) == [old.number]
    assert "no heartbeat from" in study.trials[old.number].system_attrs["lrkit:failed_reason"]


def test_a_trial_that_never_beat_is_reaped_once_seen_silent_for_the_grace_period():
    # its worker died between ask() and the heartbeat's first write
    study = optuna.create_study()
    orphan = _running_trial(study)
    assert reap_stale_trials(study, grace_period=0.3, max_retries=2) == []  # just started?
    time.sleep(0.4)
    assert reap_stale_trials(study, grace_period=0.3, max_retries=2) == [orphan.number]
    trials = study.get_trials()
    assert "no heartbeat at all" in trials[orphan.number].system_attrs["lrkit:failed_reason"]
    assert trials[-1].state == TrialState.WAITING and trials[-1].params == orphan.params


def test_silent_trial_times_are_kept_per_study_and_dropped_with_their_storage():
    # keyed by id(storage), a new storage at a freed one's address inherited its times and
    # reaped a fresh trial at once; one dict per storage, shared by its studies, let a reap
    # of one study wipe the other's times, so its orphan was never reaped
    import gc
    import weakref

    from lrkit.tuning import recovery

    storage = optuna.storages.InMemoryStorage()
    a = optuna.create_study(storage=storage, study_name="a")
    b = optuna.create_study(storage=storage, study_name="b")
    orphan = _running_trial(a)
    assert reap_stale_trials(a, grace_period=0.3, max_retries=0) == []
    for _ in range(5):  # the other study's reaps in between
        reap_stale_trials(b, grace_period=0.3, max_retries=0)
        time.sleep(0.1)
    assert reap_stale_trials(a, grace_period=0.3, max_retries=0) == [orphan.number]
    # the times do not keep a storage alive, so no later storage can meet them
    assert storage in recovery._FIRST_SEEN_SILENT
    gone = weakref.ref(storage)
    del storage, a, b, orphan
    gc.collect()
    assert gone() is None  # a plain dict keyed by it would have kept it


def test_retries_stop_after_max_retries():
    study = optuna.create_study()
    trial = _running_trial(study, **{"lrkit:host": "elsewhere", "lrkit:pid": 1,
                                      "lrkit:heartbeat": 0.0, "lrkit:attempt": 2})
    reap_stale_trials(study, grace_period=1, max_retries=2)
    assert study.trials[trial.number].state == TrialState.FAIL
    assert len(study.trials) == 1


def test_dead_local_process_is_detected_without_waiting_for_the_grace_period():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert pid_alive(proc.pid)
    proc.kill()
    time.sleep(0.2)
    assert not pid_alive(proc.pid)  # even as an unreaped zombie
    proc.wait()

    class T:
        system_attrs = {"lrkit:host": __import__("socket").gethostname(), "lrkit:pid": proc.pid,
                        "lrkit:heartbeat": time.time()}

    assert "is gone" in stale_reason(T, grace_period=3600)


def _create(storage_spec, name, n_trials):
    from lrkit.tuning.problem_study import create_problem_study

    storage = open_storage(storage_spec)
    create_problem_study(storage, name, problem=SLOW_PROBLEM, n_trials=n_trials, budget=None,
                         seed=0, steps=None, schedule=None, lr_range=(1e-3, 0.3),
                         sampler="lrkit", pruner="none", heartbeat_interval=1.0,
                         grace_period=600.0, max_retries=2)
    return storage


def _worker(storage_spec, name):
    return subprocess.Popen([sys.executable, "-m", "lrkit.cli.main", "worker", "--storage",
                             storage_spec, "--study", name, "--quiet"])


def kill_one_worker_mid_trial(storage_spec: str, name: str, n_trials: int = 5) -> None:
    storage = _create(storage_spec, name, n_trials)
    # the survivor starts once the victim has a trial going: started together on a busy
    # machine, the survivor could run every trial before the victim had imported torch
    victim, survivor = _worker(storage_spec, name), None
    try:
        study = optuna.load_study(study_name=name, storage=storage)
        deadline = time.time() + 60
        while time.time() < deadline and not study.get_trials(states=(TrialState.RUNNING,)):
            time.sleep(0.05)
        survivor = _worker(storage_spec, name)
        killed = _signal_mid_trial(study, victim.pid, signal.SIGKILL)
        assert killed is not None, "the victim never got a trial going"
        assert survivor.wait(timeout=90) == 0
        victim.wait()
    finally:
        for p in (victim, survivor):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    # every trial is accounted for: nothing left RUNNING or WAITING
    assert all(t.state.is_finished() for t in trials), [t.state for t in trials]
    dead = trials[killed]
    assert dead.state == TrialState.FAIL
    assert "is gone" in dead.system_attrs["lrkit:failed_reason"]
    retries = [t for t in trials if t.system_attrs.get("lrkit:retry_of") == killed]
    assert len(retries) == 1 and retries[0].params == dead.params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert n_trials <= len(done) <= n_trials + 1
    assert len(trials) == len(done) + 1  # the killed one, retried


def _signal_mid_trial(study, pid, signum):
    """Send ``signum`` to worker ``pid`` once one of its trials has reported; the trial's
    number (None when none got going within a minute)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        for t in study.get_trials(states=(TrialState.RUNNING,)):
            if t.system_attrs.get("lrkit:pid") == pid and t.intermediate_values:
                os.kill(pid, signum)
                return t.number
        time.sleep(0.05)
    return None


def test_worker_killed_mid_trial_on_the_journal_storage(tmp_path, study_name):
    kill_one_worker_mid_trial(str(tmp_path / "kill.journal"), study_name)


@pytest.mark.postgres
def test_worker_killed_mid_trial_on_postgres(postgres_study):
    url, name = postgres_study
    kill_one_worker_mid_trial(url, name)


def test_ctrl_c_fails_the_trial_as_interrupted_and_the_next_worker_retries_it(tmp_path, study_name):
    """SIGINT (exit 130) left the trial FAIL with no reason and no retry, unlike kill -9."""
    spec = str(tmp_path / "int.journal")
    storage = _create(spec, study_name, n_trials=2)
    worker = _worker(spec, study_name)
    study = optuna.load_study(study_name=study_name, storage=storage)
    try:
        interrupted = _signal_mid_trial(study, worker.pid, signal.SIGINT)
        assert interrupted is not None, "the worker never got a trial going"
        assert worker.wait(timeout=30) == 130
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    trials = study.get_trials()
    assert trials[interrupted].state == TrialState.FAIL
    assert trials[interrupted].system_attrs["lrkit:failed_reason"] == "interrupted"
    retry = [t for t in trials if t.system_attrs.get("lrkit:retry_of") == interrupted]
    assert len(retry) == 1 and retry[0].state == TrialState.WAITING
    assert _worker(spec, study_name).wait(timeout=90) == 0
    retry = study.get_trials()[retry[0].number]
    assert retry.state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retry.params == trials[interrupted].params


def test_ctrl_c_of_tune_with_workers_fails_their_trials_as_interrupted(tmp_path, study_name):
    """SIGINT to 'lrkit tune --workers 2' terminated its workers (SIGTERM) in the middle of
    their trials, which stayed RUNNING in the storage (no reason, no retry) until a later
    worker reaped them; the workers now get the interrupt and fail them as interrupted."""
    spec = str(tmp_path / "tune-int.journal")
    storage = _create(spec, study_name, n_trials=8)
    tune = subprocess.Popen([sys.executable, "-m", "lrkit.cli.main", "tune", "--problem",
                             SLOW_PROBLEM, "--storage", spec, "--study", study_name,
                             "--n-trials", "20", "--workers", "2", "--out", "none"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    study = optuna.load_study(study_name=study_name, storage=storage)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            running = study.get_trials(states=(TrialState.RUNNING,))
            if len(running) == 2 and all(t.intermediate_values for t in running):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the two workers never got trials going")
        tune.send_signal(signal.SIGINT)  # to the parent alone, as `kill -INT` does
        assert tune.wait(timeout=60) == 130
    finally:
        if tune.poll() is None:
            tune.kill()
            tune.wait()
    time.sleep(0.5)
    trials = study.get_trials()
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 2, [(t.number, t.state.name) for t in trials]
    assert all(t.system_attrs.get("lrkit:failed_reason") == "interrupted" for t in failed), [(t.number, t.system_attrs) for t in failed]
    retried = {t.system_attrs.get("lrkit:retry_of") for t in trials if t.state == TrialState.WAITING}
    assert retried == {t.number for t in failed}
