"""Trials of dead workers: heartbeats, stale-trial detection and retries, for every storage.

Optuna's own heartbeat exists only for database storages and only under
``study.optimize``; lrkit drives Optuna by ask/tell and also uses the journal file, so it
keeps its own, in three trial system attributes:

* ``lrkit:host`` and ``lrkit:pid``: who runs the trial;
* ``lrkit:heartbeat``: a Unix time refreshed every ``interval`` seconds by a thread.

Before asking for a new trial every worker reaps stale RUNNING trials: a trial is stale when
its process is gone (same host: the pid no longer exists or is a zombie, which catches a
``kill -9`` at once) or when its heartbeat is older than ``grace_period`` seconds (any host;
also when the recorded pid is the reaper's own, as for a worker restarted as pid 1 in its
container). A trial with no heartbeat at all (its worker died between ``ask`` and the first
beat) is stale once the reaper has seen it so for ``grace_period`` seconds by its own clock.
A stale trial is set to FAIL (only one reaper wins that write) and, up to ``max_retries``
times, its parameters are queued again as a WAITING trial that records ``lrkit:retry_of``,
so the next ``ask`` runs them again. A trial interrupted in its own worker (Ctrl-C) is
failed with the reason "interrupted" and retried the same way. Every trial ends COMPLETE,
PRUNED or FAIL, and every such FAIL either has its retry or is reported as out of retries.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from typing import Any

from lrkit._optional import require

optuna = require("optuna", "lrkit.tune")
TrialState = optuna.trial.TrialState
logger = logging.getLogger(__name__)

HOST = socket.gethostname()

DEFAULT_HEARTBEAT = 10.0  # seconds between a running trial's heartbeats
DEFAULT_GRACE = 60.0  # seconds without one before a trial is failed as stale

# storage -> {study id: {trial id: when this process first saw the RUNNING trial without a
# heartbeat}},
# on its own monotonic clock (another machine's clock or time zone cannot skew it); keyed
# by the storage object itself, weakly: an id() could be reused by a new storage
_FIRST_SEEN_SILENT: weakref.WeakKeyDictionary[Any, dict[int, dict[int, float]]] = \
    weakref.WeakKeyDictionary()


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this machine and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


class Heartbeat:
    """Context manager: mark a trial as ours and refresh its heartbeat until exit."""

    def __init__(self, storage: Any, trial_id: int, interval: float) -> None:
        self.storage = storage
        self.trial_id = trial_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        self.storage.set_trial_system_attr(self.trial_id, "lrkit:host", HOST)
        self.storage.set_trial_system_attr(self.trial_id, "lrkit:pid", os.getpid())
        self.storage.set_trial_system_attr(self.trial_id, "lrkit:heartbeat", time.time())
        self._thread = threading.Thread(target=self._run, name="lrkit-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.storage.set_trial_system_attr(self.trial_id, "lrkit:heartbeat", time.time())
            except Exception as exc:  # the trial finished or the database blipped
                logger.debug("heartbeat of trial id %s: %s", self.trial_id, exc)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def check_heartbeat(heartbeat_interval: Any, grace_period: Any) -> tuple[float, float]:
    """Validate ``(heartbeat_interval, grace_period)``: positive, the grace at least twice the
    interval (a running trial's heartbeat is up to one interval old, and one late write must
    not get a live trial failed as stale by another machine)."""
    from lrkit._validation import check_positive

    heartbeat_interval = check_positive("heartbeat_interval", heartbeat_interval)
    grace_period = check_positive("grace_period", grace_period)
    if grace_period < 2 * heartbeat_interval:
        raise ValueError("`grace_period` must be at least twice `heartbeat_interval` (else live "
                         f"trials are failed as stale), but got grace_period={grace_period:g} "
                         f"and heartbeat_interval={heartbeat_interval:g}")
    return heartbeat_interval, grace_period


def check_resumed_grace(study: Any, grace_period: float) -> None:
    """Raise ``ValueError`` when joining ``study`` while it has running trials with a grace
    period shorter than twice the heartbeat interval stored in it: the workers running them
    keep beating at that interval, so a shorter grace would fail their live trials as
    stale. Any other change of the heartbeat interval, grace period or retries applies to
    the workers that join from then on."""
    stored = study.user_attrs.get("lrkit:heartbeat_interval")
    if stored is None or grace_period >= 2 * stored:
        return
    if study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        raise ValueError(
            f"`grace_period` must be at least twice the heartbeat interval of the workers "
            f"already in study {study.study_name!r} ({stored:g} s), but got "
            f"grace_period={grace_period:g}; their live trials would be failed as stale")


def stale_reason(trial: Any, grace_period: float, now: float | None = None,
                 silent_for: float | None = None) -> str | None:
    """Why a RUNNING lrkit trial is stale, or None when its worker looks alive.

    ``silent_for``: how long the caller has seen this trial without any heartbeat (None:
    not seen so before); past ``grace_period`` its worker died as it started it.
    """
    attrs = trial.system_attrs
    host, pid, beat = attrs.get("lrkit:host"), attrs.get("lrkit:pid"), attrs.get("lrkit:heartbeat")
    if host is None or beat is None:
        if silent_for is not None and silent_for > grace_period:
            return f"no heartbeat at all in {silent_for:.0f} s (its worker died starting it)"
        return None  # just being started, most likely
    # the reaper's own pid is only a namesake (a restarted container's pid 1): a reaper runs
    # between its trials, so the heartbeat's age decides, below
    if host == HOST and pid is not None and pid != os.getpid() and not pid_alive(int(pid)):
        return f"worker process {pid} on {host} is gone"
    age = (time.time() if now is None else now) - float(beat)
    if age > grace_period:
        return f"no heartbeat from {host} pid {pid} for {age:.0f} s"
    return None


def reap_stale_trials(study: Any, *, grace_period: float, max_retries: int) -> list[int]:
    """Fail the stale RUNNING trials of ``study`` and queue their parameters again.

    Returns the numbers of the trials this call failed.
    """
    storage = study._storage
    reaped = []
    now = time.monotonic()
    # per study: trial ids are unique in the storage, but each reap sees one study's trials
    first_seen = _FIRST_SEEN_SILENT.setdefault(storage, {}).setdefault(study._study_id, {})
    silent_now: set[int] = set()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        silent_for = None
        if "lrkit:heartbeat" not in trial.system_attrs:
            silent_now.add(trial._trial_id)
            silent_for = now - first_seen.setdefault(trial._trial_id, now)
        reason = stale_reason(trial, grace_period, silent_for=silent_for)
        if reason is None:
            continue
        try:
            storage.set_trial_system_attr(trial._trial_id, "lrkit:failed_reason", reason)
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker reaped it first
        reaped.append(trial.number)
        queue_retry(study, trial, reason, max_retries=max_retries)
    for trial_id in set(first_seen) - silent_now:  # it beat, ended or was reaped
        first_seen.pop(trial_id, None)
    return reaped


def queue_retry(study: Any, trial: Any, reason: str, *, max_retries: int) -> bool:
    """Queue the parameters of the failed ``trial`` again as a WAITING trial.

    The retry records ``lrkit:retry_of`` (the first attempt), ``lrkit:retried_trial`` and
    ``lrkit:attempt``; after ``max_retries`` attempts nothing is queued. Returns whether a
    retry was queued.
    """
    attempt = int(trial.system_attrs.get("lrkit:attempt", 0)) + 1
    original = trial.system_attrs.get("lrkit:retry_of", trial.number)
    if attempt > max_retries:
        logger.warning("trial %d failed (%s) and is out of retries", trial.number, reason)
        return False
    logger.warning("trial %d failed (%s); retrying its parameters", trial.number, reason)
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING,
        params=trial.params,
        distributions=trial.distributions,
        # the user's attributes, and lrkit:final: a retried closing run still runs to the end
        user_attrs={k: v for k, v in trial.user_attrs.items()
                    if not k.startswith("lrkit:") or k in ("lrkit:final", "lrkit:final_of")},
        system_attrs={"lrkit:retry_of": original, "lrkit:retried_trial": trial.number,
                      "lrkit:attempt": attempt},
    ))
    return True
