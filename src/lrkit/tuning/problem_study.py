"""Studies that tune a problem: created once by ``lrkit tune``, joined by ``lrkit worker``.

Everything a worker needs is stored in the study's user attributes (problem, seed, steps,
schedule, sampler, pruner, rate range, trial count, budget), so
``lrkit worker --storage URL --study NAME`` on any machine runs exactly the same trials.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lrkit._optional import require

#: trials of a new study when neither ``n_trials`` nor ``budget`` is given
DEFAULT_TRIALS = 20


def problem_spec(spec: str) -> str:
    """A problem spec that other processes can resolve: file paths made absolute."""
    if ":" in spec and spec.rsplit(":", 1)[0].endswith(".py"):
        path, func = spec.rsplit(":", 1)
        return f"{Path(path).resolve()}:{func}"
    return spec


def create_problem_study(storage: Any, study_name: str, *, problem: str, n_trials: int | None,
                         budget: float | None, seed: int | None, steps: int | None,
                         schedule: str | None, lr_range: tuple[float, float] | None,
                         sampler: str | None, pruner: str | None,
                         heartbeat_interval: float | None, grace_period: float | None,
                         max_retries: int) -> Any:
    """Create (or load, to resume) the study and record how its trials are run.

    ``storage`` is an Optuna storage or its spec (a journal file path, an SQLAlchemy URL,
    ``":memory:"``); a spec is opened only once every argument is valid, so bad input leaves
    no empty journal file behind. ``lr_range=None`` is the problem's default rate /1000 to
    x1000 for a new study and the stored range for an existing one; a different range for
    an existing study raises ``ValueError``, like a different problem. So do ``steps``,
    ``seed`` and ``schedule`` (None: the stored one, else the problem's steps, seed 0 and
    the default schedule): a trial of another length, data order or schedule is not
    comparable with the ones already run. ``n_trials`` and ``budget`` may change on resume;
    with neither given, a resumed study keeps its stored ones and a new one runs
    ``DEFAULT_TRIALS``. ``sampler``, ``pruner``, ``heartbeat_interval`` and ``grace_period``
    may change on resume too; None keeps the stored one (a new study: lrkit's sampler and
    pruner, 10 s and 60 s).
    """
    from lrkit._validation import check_positive
    from lrkit.problems import get
    from lrkit.tuning.api import (
        check_lr_range,
        check_sampler_seed,
        make_pruner,
        make_sampler,
        resume_lr_range,
        resume_setting,
    )
    from lrkit.tuning.recovery import check_heartbeat, check_resumed_grace
    from lrkit.tuning.runner import Settings
    from lrkit.tuning.storage import create_or_load_study

    optuna = require("optuna", "lrkit tune")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # before the study is created: the samplers reject a negative seed only later, in a worker
    seed = None if seed is None else check_sampler_seed(seed)
    prob = get(problem)  # as given: its errors quote what the user typed
    spec = problem_spec(problem)
    if lr_range is not None:
        lr_range = check_lr_range(lr_range)
    if heartbeat_interval is not None and grace_period is not None:
        check_heartbeat(heartbeat_interval, grace_period)
    else:  # the pair is checked once the stored partner is known
        for name, value in (("heartbeat_interval", heartbeat_interval),
                            ("grace_period", grace_period)):
            if value is not None:
                check_positive(name, value)
    if schedule is not None:  # bad schedule text fails here, before the study is created
        from lrkit.problems.train import resolve_schedule

        resolve_schedule(schedule, prob.steps if steps is None else steps)
    if sampler is not None:
        make_sampler(sampler)
    if pruner is not None:
        make_pruner(pruner)
    if isinstance(storage, str):
        from lrkit.tuning.storage import is_url, open_storage

        if storage != ":memory:" and not is_url(storage) and not Path(storage).exists():
            _paired_heartbeat(heartbeat_interval, grace_period, {})  # a new journal: no file yet
        storage = open_storage(storage)
    # a heartbeat or grace given alone pairs with the stored partner (a new study's: the
    # default); checked before the study is created, so bad input leaves no empty study
    try:
        study = optuna.load_study(storage=storage, study_name=study_name)
    except KeyError:
        study = None
    heartbeat_interval, grace_period = _paired_heartbeat(
        heartbeat_interval, grace_period, study.user_attrs if study is not None else {})
    if study is None:
        study = create_or_load_study(storage, study_name)
    old = study.user_attrs.get("lrkit:problem")
    if old is not None and old != spec:
        raise ValueError(f"`study_name` {study_name!r} tunes problem {old!r}; use another "
                         f"`study_name` for problem={spec!r}")
    stored = study.user_attrs
    sampler = sampler or stored.get("lrkit:sampler", "lrkit")
    pruner = pruner or stored.get("lrkit:pruner", "lrkit")
    check_resumed_grace(study, grace_period)
    lr_range = resume_lr_range(study, lr_range) or \
        (prob.default_lr * 1e-3, prob.default_lr * 1e3)
    steps = resume_setting(study, "steps", "lrkit:total_steps", steps) or prob.steps
    seed = resume_setting(study, "seed", "lrkit:seed", seed) or 0
    schedule = resume_setting(study, "schedule", "lrkit:schedule", schedule,
                              none_is_set="lrkit:problem" in study.user_attrs)
    if n_trials is None and budget is None:  # how long to run: as stored, else 20 trials
        n_trials = study.user_attrs.get("lrkit:n_trials")
        budget = study.user_attrs.get("lrkit:budget")
        if n_trials is None and budget is None:
            n_trials = DEFAULT_TRIALS
    settings = Settings(lr_range=lr_range, n_trials=n_trials, budget=budget, total_steps=steps,
                        heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                        max_retries=max_retries)
    attrs = dict(settings.to_attrs(), **{
        "lrkit:problem": spec, "lrkit:seed": seed, "lrkit:schedule": schedule,
        "lrkit:sampler": sampler, "lrkit:pruner": pruner, "lrkit:start": prob.default_lr})
    for key, value in attrs.items():
        # stored even when None: a None schedule is the default one, a choice to keep
        if key not in study.user_attrs or study.user_attrs[key] != value:
            study.set_user_attr(key, value)
    return study


def _paired_heartbeat(heartbeat_interval: float | None, grace_period: float | None,
                      stored: dict[str, Any]) -> tuple[float, float]:
    """The heartbeat and grace a study runs with: each as given, else as stored, else the
    default; a ``ValueError`` when the grace is under twice the heartbeat, saying where a
    value the user did not give came from."""
    from lrkit.tuning.recovery import DEFAULT_GRACE, DEFAULT_HEARTBEAT, check_heartbeat

    def source(key: str) -> str:
        return "stored" if key in stored else "default"

    heartbeat = heartbeat_interval or stored.get("lrkit:heartbeat_interval", DEFAULT_HEARTBEAT)
    grace = grace_period or stored.get("lrkit:grace_period", DEFAULT_GRACE)
    try:
        return check_heartbeat(heartbeat, grace)
    except ValueError as exc:
        if heartbeat_interval is None:
            raise ValueError(f"{exc} (the {source('lrkit:heartbeat_interval')} "
                             f"heartbeat_interval={heartbeat:g})") from None
        if grace_period is None:
            raise ValueError(f"{exc} (the {source('lrkit:grace_period')} "
                             f"grace_period={grace:g})") from None
        raise


def run_problem_worker(storage: Any, study_name: str, *, on_trial: Any = None,
                       worker_seed: int | None = None) -> tuple[Any, int]:
    """Join the study and run its trials until it is done; returns (study, trials run here)."""
    from lrkit.tuning.api import make_pruner, make_sampler
    from lrkit.tuning.objective import problem_objective
    from lrkit.tuning.pruner import DivergencePruner
    from lrkit.tuning.runner import Settings, run_worker

    optuna = require("optuna", "lrkit worker")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        probe = optuna.load_study(storage=storage, study_name=study_name)
    except KeyError:
        raise ValueError(f"`study` must exist in the storage (create it with 'lrkit tune'), "
                         f"but got study={study_name!r}") from None
    attrs = probe.user_attrs
    if "lrkit:problem" not in attrs:
        raise ValueError(f"`study` must have been created by 'lrkit tune --problem', but got "
                         f"study={study_name!r} without an lrkit:problem attribute")
    settings = Settings.from_attrs(attrs, final_run=attrs.get("lrkit:pruner", "lrkit") == "lrkit")
    # each worker draws its own proposals; the samplers take seeds below 2**32
    seed = worker_seed if worker_seed is not None else (int(attrs.get("lrkit:seed", 0)) * 100003
                                                        + os.getpid()) % 2**32
    sampler = make_sampler(attrs.get("lrkit:sampler", "lrkit"), seed=seed,
                           start=attrs.get("lrkit:start"))
    pruner = make_pruner(attrs.get("lrkit:pruner", "lrkit"), total_steps=settings.total_steps)
    study = optuna.load_study(storage=storage, study_name=study_name, sampler=sampler,
                              pruner=pruner)
    objective = problem_objective(attrs["lrkit:problem"], seed=int(attrs.get("lrkit:seed", 0)),
                                  schedule=attrs.get("lrkit:schedule"),
                                  steps=settings.total_steps)
    checkpoints = (pruner.rung_steps(settings.total_steps)
                   if isinstance(pruner, DivergencePruner) else [])
    ran = run_worker(study, objective, settings, checkpoints=checkpoints, on_trial=on_trial)
    return study, ran
