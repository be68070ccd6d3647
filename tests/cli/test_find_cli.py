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
    assert "lrkit find: error: `--problem` must be" in err and err.count("\n") == 1
    assert main(["find", "--problem", problem_spec, "--num", "1", "--out", "none"]) == 2
    assert "`--num` must be an integer >= 2, but got --num=1" in capsys.readouterr().err


def test_list_problems(capsys):
    assert main(["find", "--list-problems", "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)]
    assert "digits-mlp" in names and len(names) >= 6


@pytest.mark.parametrize("source,function,needle", [
    ("def f(:\n", "f", "importing {path} raised SyntaxError: "),
    ("import no_such_module_here\n", "f", "importing {path} raised ModuleNotFoundError: "),
    ("def f():\n    raise RuntimeError('no data')\n", "f",
     "`--problem` '{path}:f' raised RuntimeError: no data"),
    ("def needs_arg(x):\n    pass\n", "needs_arg",
     "`--problem` must name a function that takes no arguments, but got "
     "--problem='{path}:needs_arg' (needs_arg(x))"),
])
def test_errors_in_the_problem_file_are_one_line_naming_problem(tmp_path, capsys, source,
                                                                 function, needle):
    path = tmp_path / "broken.py"
    path.write_text(source)
    assert main(["find", "--problem", f"{path}:{function}", "--out", "none"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit find: error: `--problem` "), lines
    assert needle.format(path=path) in lines[0]
    assert captured.out == ""


def test_too_few_steps_advise_raising_num_and_claim_no_blow_up(capsys):
    assert main(["find", "--problem", "quadratic", "--num", "3", "--out", "none"]) == 0
    out = capsys.readouterr().out
    assert "stopped: end" in out and "blew up" not in out
    assert "raise `--num` to 8 or more" in out


def test_too_few_steps_in_the_library_note():
    import lrkit

    result = lrkit.range_test(lambda lr: 1.0, num=2)
    assert result.stop_reason == "end"
    assert result.note == ("only 2 steps, too few for the curve to take shape; raise `num` to "
                           "8 or more")
    # a real early blow-up still says so
    blown = lrkit.range_test(lambda lr: 1.0 if lr < 1.9e-7 else float("nan"), start=1e-7,
                             end=1e-3, num=50)
    assert blown.stop_reason == "nonfinite" and blown.steps < 8
    assert "blew up" in blown.note


def test_flag_names_in_errors(capsys):
    assert main(["find", "--problem", "quadratic", "--accumulation-steps", "0",
                 "--out", "none"]) == 2
    err = capsys.readouterr().err
    assert "`--accumulation-steps` must be a positive integer, but got " \
        "--accumulation-steps=0" in err


def test_help_examples_name_the_examples_function(capsys):
    with pytest.raises(SystemExit):
        main(["find", "--help"])
    out = capsys.readouterr().out
    assert "examples/my_problem.py:make_problem" in out and ":make " not in out
