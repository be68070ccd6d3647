"""Where studies live: an embedded journal file by default, any SQLAlchemy URL, or memory.

``open_storage(spec)`` turns a storage spec into an Optuna storage:

* ``None`` or ``":memory:"``: Optuna's in-memory storage (one process, nothing written);
* a path (``lrkit-tune.journal``, ``runs/study.log``): Optuna's journal file storage, which
  needs no server and is safe for many processes on one machine (appends under a file lock);
* a SQLAlchemy URL (``sqlite:///tune.db``, ``postgresql://user@host/db``):
  Optuna's ``RDBStorage`` with a small, pre-pinged connection pool. PostgreSQL is the way to
  spread one study over many machines; a plain ``postgresql://`` URL uses whichever of
  psycopg (3) and psycopg2 is installed.

Why the journal file is the default: on this project's machines a journal file served
several writer processes without the "database is locked" errors and retries that SQLite
shows under concurrent writers, and was faster per trial (see ``docs/benchmarks/tune.md``,
measured by ``benchmarks/storage_compare.py``).

>>> storage = open_storage(None)
>>> type(storage).__name__
'InMemoryStorage'
"""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Any

from lrkit._optional import require

logger = logging.getLogger(__name__)

DEFAULT_STORAGE = "lrkit-tune.journal"

# Each worker process uses at most two connections at once: its main thread (ask, report,
# tell) and its heartbeat thread. A tiny pool keeps K workers x M machines well below
# PostgreSQL's default max_connections=100.
POOL_KWARGS = {"pool_size": 2, "max_overflow": 2, "pool_pre_ping": True, "pool_recycle": 300}
CONNECT_TIMEOUT = 10  # seconds to reach a PostgreSQL server before giving up


def is_url(spec: str) -> bool:
    """True for a SQLAlchemy URL such as ``sqlite:///x.db`` or ``postgresql://host/db``."""
    head, sep, _ = spec.partition("://")
    return bool(sep) and head.replace("+", "").replace("_", "").isalnum()


def describe(spec: str | None) -> str:
    """A short, password-free description of a storage spec for logs and tables."""
    if spec is None or spec == ":memory:":
        return "memory"
    if is_url(spec):
        head, _, rest = spec.partition("://")
        if "@" in rest:
            creds, _, host = rest.rpartition("@")
            user = creds.split(":", 1)[0]
            return f"{head}://{user}@{host}"
        return spec
    return f"journal file {spec}"


def open_storage(spec: Any = None) -> Any:
    """An Optuna storage for ``spec`` (None, ``":memory:"``, a file path or a SQLAlchemy URL).

    An Optuna ``BaseStorage`` instance is returned unchanged. Creating the tables of a fresh
    database is retried, because several processes doing it at once on PostgreSQL race to
    a unique violation.

    >>> open_storage(":memory:").__class__.__name__
    'InMemoryStorage'
    """
    optuna = require("optuna", "lrkit.tune")
    if isinstance(spec, optuna.storages.BaseStorage):
        return spec
    if spec is None or spec == ":memory:":
        return optuna.storages.InMemoryStorage()
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec:
        raise TypeError(
            f"`storage` must be None, a file path, a SQLAlchemy URL or an Optuna storage, "
            f"but got storage={spec!r}"
        )
    if is_url(spec):
        return _open_rdb(spec)
    path = Path(spec)
    if path.is_dir():
        raise ValueError(f"`storage` must be a file path, not a directory, but got storage={spec!r}")
    if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
        raise ValueError(
            f"`storage` is a SQLite database; pass it as a URL, 'sqlite:///{spec}', "
            f"but got storage={spec!r}"
        )
    if path.is_file():
        with path.open("rb") as f:
            head = f.read(64).lstrip()
        if head and not head.startswith(b"{"):  # a journal is JSON lines, one object each
            raise ValueError(f"`storage` must be an Optuna journal file (JSON lines) or a "
                             f"SQLAlchemy URL, but got storage={spec!r}, which is neither")
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def with_installed_driver(url: str) -> str:
    """``url`` with a PostgreSQL driver that is installed, when it names none.

    A plain ``postgresql://`` URL means SQLAlchemy's default driver, which is psycopg 3
    since SQLAlchemy 2.1 (psycopg2 before); when that one is missing and the other is
    installed, the URL names the installed one (``postgresql+psycopg2://...``). Other URLs,
    and URLs that name a driver, are returned unchanged.
    """
    import importlib.util

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        if parsed.drivername != "postgresql":
            return url
        default = parsed.get_dialect().driver
    except (ArgumentError, ImportError, ValueError):
        return url  # the error is reported when the storage is opened
    for driver in dict.fromkeys([default, "psycopg", "psycopg2"]):
        if importlib.util.find_spec(driver) is not None:
            if driver == default:
                return url
            return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)
    return url


def _open_rdb(url: str) -> Any:
    optuna = require("optuna", "lrkit.tune")
    require("sqlalchemy", "lrkit.tune with a database URL")
    shown = url
    url = with_installed_driver(url)
    engine_kwargs: dict[str, Any] = {} if url.startswith("sqlite") else dict(POOL_KWARGS)
    if url.startswith("sqlite"):
        # wait for a busy database instead of failing at once
        engine_kwargs["connect_args"] = {"timeout": 60}
    elif url.startswith(("postgresql+psycopg", "postgres://", "postgresql://")):
        # a server that accepts and never answers (or a firewalled host) must not hang a
        # worker for ever: libpq (psycopg2 and psycopg 3) gives up after this many seconds;
        # other drivers (pg8000) take no such argument and keep their own defaults
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    last: Exception | None = None
    for attempt in range(8):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except ImportError as exc:  # the URL's database driver is not installed
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            hint = ("; install psycopg2 or psycopg (e.g. pip install psycopg2-binary)"
                    if url.startswith(("postgresql", "postgres")) else "")
            raise ImportError(f"`storage` needs a database driver that is not installed "
                              f"({cause}){hint}, but got storage={describe(shown)!r}") from exc
        except Exception as exc:  # table creation raced with another process
            from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

            if isinstance(exc, (ArgumentError, ValueError)):  # a malformed URL (a bad port)
                raise ValueError(f"`storage` must be a file path or a SQLAlchemy URL, but got "
                                 f"storage={describe(shown)!r} ({exc})") from exc
            if not isinstance(exc, DBAPIError):
                raise
            last = exc
            if isinstance(exc, OperationalError) and not _raced(exc):
                # refused, timed out, no such database or role, a read-only or full disk:
                # retrying cannot help
                break
            logger.info("creating the tables of %s raced (%s); retrying", describe(shown), exc)
            time.sleep(0.2 * (attempt + 1) * (1 + random.random()))
    assert last is not None
    reason = str(getattr(last, "orig", None) or last).strip().splitlines()[0]
    raise ConnectionError(f"could not open the database {describe(shown)}: {reason}") from last


def _raced(exc: Exception) -> bool:
    """Whether a database error is another process creating the same tables at the same
    time (SQLite: "table ... already exists", "database is locked")."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "already exists" in text or "locked" in text or "duplicate" in text


def create_or_load_study(storage: Any, study_name: str, *, sampler: Any = None,
                         pruner: Any = None) -> Any:
    """Create the study once, or load it when it exists (the way re-running resumes).

    A concurrent creation elsewhere (``DuplicatedStudyError`` or a unique violation from the
    database) is answered by loading the study the other process made.
    """
    optuna = require("optuna", "lrkit.tune")
    for attempt in range(8):
        try:
            return optuna.create_study(storage=storage, study_name=study_name, sampler=sampler,
                                       pruner=pruner, direction="minimize", load_if_exists=True)
        except optuna.exceptions.DuplicatedStudyError:
            pass
        except Exception as exc:
            from sqlalchemy.exc import IntegrityError

            if not isinstance(exc, IntegrityError):
                raise
        logger.info("study %r was being created elsewhere; loading it", study_name)
        time.sleep(0.1 * (attempt + 1))
        try:
            return optuna.load_study(storage=storage, study_name=study_name, sampler=sampler,
                                     pruner=pruner)
        except KeyError:
            continue
    raise RuntimeError(f"could not create or load study {study_name!r}")
