import json
import textwrap

import pytest

from lrkit.cli.main import main

PROBLEM = textwrap.dedent(
    '''
    import torch
    from lrkit.problems import Problem

    def make():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(256, 5, generator=g)
        y = x @ torch.randn(5, 1, generator=g) + 0.1 * torch.randn(256, 1, generator=g)

        def batches(seed):
            gen = torch.Generator().manual_seed(seed)
            while True:
                idx = torch.randint(0, 256, (32,), generator=gen)
                yield x[idx], y[idx]

        def loss_fn(model, batch):
            inputs, targets = batch
            return torch.nn.functional.mse_loss(model(inputs), targets)

        def make_model(seed):
            torch.manual_seed(seed)
            return torch.nn.Linear(5, 1)

        return Problem(
            name="tiny-regression", description="linear regression, SGD",
            make_model=make_model, make_optimizer=lambda p, lr: torch.optim.SGD(p, lr=lr),
            loss_fn=loss_fn, batches=batches,
            evaluate=lambda model: float(loss_fn(model, (x, y))),
            steps=50, default_lr=0.01, optimizer="sgd",
        )
    '''
)


@pytest.fixture()
def problem_spec(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(PROBLEM)
    return f"{path}:make"


def test_json_output_and_plot(problem_spec, tmp_path, capsys):
    png = tmp_path / "find.png"
    code = main(["find", "--problem", problem_spec, "--num", "60", "--start", "1e-5",
                 "--end", "100", "--out", str(png), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["problem"] == "tiny-regression"
    assert payload["stop_reason"] == "diverged"
    # plain SGD on this regression: Hessian eigenvalues near 2, so the edge is near 2/L ~ 1
    assert 0.2 < payload["divergence_lr"] < 5.0
    assert payload["suggestion"] is not None
    low, high = payload["band"]
    assert low <= payload["suggestion"] <= high
    assert set(payload["suggestions"]) >= {"lrkit", "steepest", "valley", "minimum/10"}
    assert len(payload["lrs"]) == payload["steps"] == len(payload["losses"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_text_output(problem_spec, tmp_path, capsys):
    code = main(["find", "--problem", problem_spec, "--num", "40", "--start", "1e-4",
                 "--end", "100", "--out", str(tmp_path / "p.png")])
    out = capsys.readouterr().out
    assert code == 0
    assert "suggested lr:" in out and "band" in out
    assert "divergence edge:" in out and "valley" in out
    assert f"plot: {tmp_path / 'p.png'}" in out


def test_no_plot(problem_spec, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["find", "--problem", problem_spec, "--num", "20", "--out", "none"]) == 0
    assert list(tmp_path.glob("*.png")) == []


def test_bad_input_is_one_line_and_exit_2(problem_spec, capsys):
    assert main(["find", "--problem", "no-such-problem", "--out", "none"]) == 2
    err = capsys.readouterr().err
    assert "lrkit find: error: `problem` must be" in err and err.count("\n") == 1
    assert main(["find", "--problem", problem_spec, "--num", "1", "--out", "none"]) == 2
    assert "`num` must be an integer >= 2, but got num=1" in capsys.readouterr().err


def test_list_problems(capsys):
    assert main(["find", "--list-problems", "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)]
    assert "digits-mlp" in names and len(names) >= 6
