"""The registry: built-in names, user problems from ``path.py:function`` and the errors for
a bad spec."""

from pathlib import Path

import pytest

from lrkit import problems
from lrkit.problems import Problem

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "my_problem.py"

BUILTIN = [
    "quadratic",
    "logistic",
    "digits-mlp",
    "digits-cnn",
    "autoencoder",
    "char-lm",
    "deep-tanh",
    "matrix-factorisation",
]


def test_names_lists_every_builtin_problem_in_order():
    assert problems.names() == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_get_returns_a_problem_with_that_name(name):
    problem = problems.get(name)
    assert isinstance(problem, Problem)
    assert problem.name == name
    assert problem.steps >= 100
    assert problem.default_lr in (1e-3, 1e-2)
    assert problem.description


def test_user_problem_from_file_loads_and_trains():
    problem = problems.get(f"{EXAMPLE}:make_problem")
    assert problem.name == "diabetes-mlp"
    result = problems.train(problem, 1e-2, steps=40, schedule=lambda step: 1.0)
    assert not result.diverged
    initial = problem.evaluate(problem.make_model(0))
    assert result.held_out < initial


def test_train_accepts_the_spec_string_directly():
    result = problems.train(f"{EXAMPLE}:make_problem", 1e-2, steps=5, schedule=lambda step: 1.0)
    assert result.problem == "diabetes-mlp"


def test_unknown_name_is_a_value_error_that_lists_the_names():
    with pytest.raises(ValueError, match=r"`problem` must be .*problem='nope'.*digits-mlp"):
        problems.get("nope")


def test_missing_file_is_a_value_error():
    with pytest.raises(ValueError, match="not found"):
        problems.get("no/such/file.py:make_problem")


def test_missing_function_is_a_value_error(tmp_path):
    path = tmp_path / "user.py"
    path.write_text("x = 1\n")
    with pytest.raises(ValueError, match=r"'make_problem' is not a callable"):
        problems.get(f"{path}:make_problem")
    with pytest.raises(ValueError, match=r"'x' is not a callable"):
        problems.get(f"{path}:x")


def test_function_returning_something_else_is_a_type_error(tmp_path):
    path = tmp_path / "user.py"
    path.write_text("def make():\n    return 42\n")
    with pytest.raises(TypeError, match="must produce an lrkit.problems.Problem, but got int"):
        problems.get(f"{path}:make")


@pytest.mark.parametrize("source,function,pattern,cause", [
    ("def f(:\n", "f", r"`problem` '.*user.py:f': importing .*user.py raised SyntaxError: ",
     SyntaxError),
    ("raise KeyError('at import')\n", "f", r"importing .*user.py raised KeyError: 'at import'",
     KeyError),
    ("def f():\n    raise RuntimeError('no\\ndata')\n", "f",
     r"`problem` '.*user.py:f' raised RuntimeError: no data$", RuntimeError),
    ("import sys\nsys.exit(0)\n", "f", r"importing .*user.py raised sys.exit\(0\)$", SystemExit),
    ("import sys\ndef f():\n    sys.exit('usage: f')\n", "f",
     r"`problem` '.*user.py:f' raised sys.exit\('usage: f'\)$", SystemExit),
    ("def f(x, y=1):\n    pass\n", "f",
     r"must name a function that takes no arguments, .*user.py:f' \(f\(x, y=1\)\)", None),
])
def test_errors_in_the_users_file_are_value_errors_naming_problem(tmp_path, source, function,
                                                                  pattern, cause):
    path = tmp_path / "user.py"
    path.write_text(source)
    with pytest.raises(ValueError, match=pattern) as info:
        problems.get(f"{path}:{function}")
    if cause is not None:  # the original stays attached for a traceback when wanted
        assert isinstance(info.value.__cause__, cause)


def test_a_function_with_only_optional_arguments_is_fine(tmp_path):
    path = tmp_path / "user.py"
    path.write_text("from lrkit.problems import get\n"
                    "def make(name='quadratic'):\n    return get(name)\n")
    assert problems.get(f"{path}:make").name == "quadratic"


def test_non_string_spec_is_a_type_error():
    with pytest.raises(TypeError, match="`problem` must be a string"):
        problems.get(3)


def test_train_rejects_something_that_is_not_a_problem():
    with pytest.raises(TypeError, match="`problem` must be an lrkit.problems.Problem"):
        problems.train(3.0, 0.1)


def test_held_out_loss_names_evaluate_when_it_returns_no_number():
    import dataclasses

    import torch

    problem = problems.get("quadratic")
    model = problem.make_model(0)
    assert problem.held_out_loss(model) == float(problem.evaluate(model))
    as_tensor = dataclasses.replace(problem, evaluate=lambda m: torch.tensor(0.25))
    assert as_tensor.held_out_loss(model) == 0.25
    broken = dataclasses.replace(problem, evaluate=lambda m: "x")
    with pytest.raises(TypeError, match="`evaluate` of problem 'quadratic' must return a number, but got 'x'"):
        broken.held_out_loss(model)
