"""Generic behaviour of the ``lrkit`` command: help everywhere, one-line errors, exit 2."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from lrkit.cli.main import build_parser, main


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
                 ) -> list[tuple[str, ...]]:
    """Every (nested) subcommand path, e.g. ("schedule",), ("schedule", "show")."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found.extend(_subcommands(sub, (*prefix, name)))
    return found


COMMANDS = _subcommands(build_parser())


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "lrkit.cli.main", *argv], capture_output=True,
                          text=True, env=env, timeout=120)


def test_top_level_help_lists_every_command() -> None:
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: lrkit" in result.stdout and "examples:" in result.stdout
    for (name,) in [c for c in COMMANDS if len(c) == 1]:
        assert name in result.stdout
    assert ("schedule",) in COMMANDS and ("schedule", "show") in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_subcommand_has_useful_help(command: tuple[str, ...],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: lrkit {' '.join(command)}")
    body = out.split("\n\n", 1)[1] if "\n\n" in out else ""
    assert len(body.strip()) > 40, f"'lrkit {' '.join(command)} --help' says almost nothing"
    assert "-h, --help" in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: lrkit" in capsys.readouterr().out


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_input_through_the_real_entry_point_is_one_line() -> None:
    result = _run("schedule", "show", "warmup(-5, cosine(10))")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "lrkit schedule show: error: `SPEC` must spell a valid schedule, but got "
        "SPEC='warmup(-5, cosine(10))': `warmup_steps` must be an integer >= 0, but got "
        "warmup_steps=-5"
    ]


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.startswith("lrkit ")


def test_unwritable_output_path_is_one_line(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _run("schedule", "show", "cosine(10)", "--plot", str(blocker / "sub" / "x.png"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit schedule show: error: "), result.stderr


def test_size_beyond_memory_is_one_line() -> None:
    # 10**11 steps are sampled, but 10**11 rows of a table are asked for
    result = _run("schedule", "show", "exponential(0.5)", "--steps", "100000000000",
                  "--points", "100000000000")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("lrkit schedule show: error: out of memory")


def test_number_beyond_float_range_is_one_line(tmp_path) -> None:
    result = _run("lab", "sweep", "--steps", "5", "--num", "3", "--lr-min", "1",
                  "--lr-max", "1e300", "--out", str(tmp_path / "sweep.png"))
    assert result.returncode == 2, result.stderr
    # rejected before any work: no numpy or matplotlib overflow warning, one line naming the flag
    assert result.stderr.strip().splitlines() == [
        "lrkit lab sweep: error: `--lr-max` must be <= 1e+100 (far past any divergence), but "
        "got --lr-max=1e+300"], result.stderr


@pytest.mark.parametrize("argv", [["find", "--num", "abc"], ["lab", "sweep", "--objective", "nope"],
                                  ["schedule", "show"], ["lab"]])
def test_argument_errors_are_one_line_without_the_usage_block(argv) -> None:
    result = _run(*argv)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit "), result.stderr
    assert "error: " in lines[0] and "--help" in lines[0]


@pytest.mark.parametrize("command", [["find"], ["auto"], ["tune", "--storage", "none.journal"]])
@pytest.mark.parametrize("seed, says", [("-1", "`--seed` must be an integer >= 0"),
                                        ("99999999999999999999", "`--seed` must be an integer <= 2**63 - 1")])
def test_a_seed_out_of_range_is_one_line_and_exit_2_for_every_command(command, seed, says,
                                                                      tmp_path, monkeypatch,
                                                                      capsys):
    """Audit case: find and auto took --seed -1, and a huge seed failed as 'Overflow when
    unpacking long long' without naming the flag."""
    monkeypatch.chdir(tmp_path)
    assert main([command[0], "--problem", "quadratic", f"--seed={seed}", "--out", "none",
                 *command[1:]]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and says in captured.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, prog", [(["find", "--bogus"], "lrkit find"),
                                        (["lab", "sweep", "--bogus"], "lrkit lab sweep"),
                                        (["--bogus"], "lrkit")])
def test_an_unknown_option_points_at_the_commands_own_help(argv, prog, capsys):
    # audit case: every unknown option was sent to 'lrkit --help'
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == (f"{prog}: error: unrecognized arguments: --bogus (see '{prog} --help')\n")
