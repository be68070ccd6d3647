"""Fixtures for the tune tests: a real PostgreSQL server, unique study names, and a tiny
slow problem that worker processes can load from a file."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("LRKIT_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
SLOW_PROBLEM = f"{Path(__file__).with_name('_slow_problem.py')}:make"


def _postgres_answers() -> str | None:
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any reason the server cannot be used
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test database URL; fails loudly in CI when the server does not answer."""
    problem = _postgres_answers()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} does not answer ({problem})"
        # CI=true here; other CI systems set 1, True or yes: none may skip silently
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(message + "; it is required in CI")
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
def study_name(request: pytest.FixtureRequest) -> str:
    return f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def postgres_study(postgres_url: str, study_name: str):
    """(url, study name); the study is deleted afterwards."""
    yield postgres_url, study_name
    import optuna

    try:
        optuna.delete_study(study_name=study_name, storage=postgres_url)
    except KeyError:
        pass
