"""PostgreSQL: schema and study created once, two worker processes share one study, and the
study is a plain Optuna study that optuna-dashboard can read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from lrkit.tuning.storage import create_or_load_study, open_storage

SLOW_PROBLEM = f"{Path(__file__).with_name('_slow_problem.py')}:make"

pytestmark = pytest.mark.postgres


def test_two_worker_processes_share_one_study(postgres_study):
    from lrkit.tuning.problem_study import create_problem_study

    url, name = postgres_study
    storage = open_storage(url)
    create_problem_study(storage, name, problem=SLOW_PROBLEM, n_trials=6, budget=None, seed=0,
                         steps=20, schedule=None, lr_range=(1e-3, 0.3), sampler="lrkit",
                         pruner="lrkit", heartbeat_interval=1.0, grace_period=60.0, max_retries=2)
    procs = [subprocess.Popen([sys.executable, "-m", "lrkit.cli.main", "worker", "--storage",
                               url, "--study", name, "--quiet"]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    study = optuna.load_study(study_name=name, storage=url)
    trials = study.get_trials()
    assert 6 <= len(trials) <= 7
    assert all(t.state.is_finished() for t in trials)
    pids = {t.system_attrs["lrkit:pid"] for t in trials}
    assert pids == {p.pid for p in procs}  # both workers ran trials of the one study
    lrs = [t.params["lr"] for t in trials if not t.user_attrs.get("lrkit:final")]
    # they share one search: rates of running trials are skipped (two asks at the very same
    # instant may still get the same rate once)
    assert len(set(lrs)) >= len(lrs) - 1
    # two workers deciding at the same moment may each add a closing run
    assert len([t for t in trials if t.user_attrs.get("lrkit:final")]) <= 2


def test_concurrent_first_creation_does_not_race(postgres_study):
    from concurrent.futures import ThreadPoolExecutor

    url, name = postgres_study

    def create(_):
        return create_or_load_study(open_storage(url), name)._study_id

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(create, range(4)))
    assert len(set(ids)) == 1


def test_dashboard_loader_reads_a_postgres_study(postgres_study):
    from optuna_dashboard._inmemory_cache import InMemoryCache
    from optuna_dashboard._storage import get_studies, get_trials
    from optuna_dashboard._storage_url import get_storage

    from lrkit.tuning import tune

    url, name = postgres_study

    def objective(trial):
        for step in range(10):
            trial.report(step, (trial.lr - 0.1) ** 2 + 1 / (step + 1))
        return (trial.lr - 0.1) ** 2

    tune(objective, n_trials=3, total_steps=10, storage=url, study_name=name)
    storage = get_storage(url)
    study = next(s for s in get_studies(storage) if s.study_name == name)
    assert len(get_trials(InMemoryCache(), storage, study._study_id)) == 3


def test_a_plain_postgresql_url_uses_the_installed_driver(postgres_study):
    """SQLAlchemy 2.1 reads postgresql:// as psycopg 3; with only psycopg2 installed a plain
    URL failed with "No module named 'psycopg'"."""
    from lrkit.tuning import tune

    url, name = postgres_study
    plain = "postgresql://" + url.split("://", 1)[1]
    result = tune(lambda t: (t.lr - 0.1) ** 2, n_trials=2, storage=plain, study_name=name,
                  lr_range=(1e-3, 1.0))
    assert len(result.trials) == 2
