"""``lrkit find`` on user problem files that are wrong: one line, exit status 2."""

import textwrap

import pytest

from lrkit.cli.main import main

SOURCE = textwrap.dedent(
    '''
    import itertools
    import torch
    from lrkit.problems import Problem

    def batches(seed):
        g = torch.Generator().manual_seed(seed)
        while True:
            x = torch.randn(16, 4, generator=g)
            yield x, x.sum(1, keepdim=True)

    def make(**changes):
        settings = dict(
            name="mine", description="linear regression",
            make_model=lambda seed: torch.nn.Linear(4, 1),
            make_optimizer=lambda params, lr: torch.optim.SGD(params, lr=lr),
            loss_fn=lambda model, batch: torch.nn.functional.mse_loss(model(batch[0]), batch[1]),
            batches=batches, evaluate=lambda model: 0.0, steps=10, default_lr=0.01,
            optimizer="sgd")
        settings.update(changes)
        return Problem(**settings)

    def not_a_module():
        return make(make_model=lambda seed: "a model")

    def no_batches():
        return make(batches=lambda seed: iter([]))

    def lbfgs():
        return make(make_optimizer=lambda params, lr: torch.optim.LBFGS(params, lr=lr, max_iter=2))
    '''
)


@pytest.fixture
def problem_file(tmp_path):
    path = tmp_path / "problems.py"
    path.write_text(SOURCE)
    return path


@pytest.mark.parametrize("function, message", [
    ("not_a_module", "must return a torch.nn.Module, but got str"),
    ("no_batches", "must yield at least one batch, but got data=<batches of problem 'mine', seed 0>"),
])
def test_a_wrong_problem_is_one_line_and_exit_2(problem_file, capsys, function, message):
    code = main(["find", "--problem", f"{problem_file}:{function}", "--num", "10", "--out", "none"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("lrkit find: error: ") and err.count("\n") == 1
    assert message in err


def test_a_problem_with_lbfgs(problem_file, capsys):
    code = main(["find", "--problem", f"{problem_file}:lbfgs", "--num", "10", "--out", "none"])
    assert code == 0, capsys.readouterr().err
    assert "stopped:" in capsys.readouterr().out
