"""What every command shares: where ``--out`` writes (and that the path printed is the one
written), an unsupported format refused before any work, a closed stdout (``| head``) ended
quietly, and library parameter names shown as the command's flags."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from lrkit.cli._common import name_flags, plot_path_type
from lrkit.cli.main import main

FIND = ["find", "--problem", "quadratic", "--num", "10"]


def test_out_without_an_extension_writes_png_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*FIND, "--out", "myplot"]) == 0
    assert "plot: myplot.png" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["myplot.png"]


def test_out_an_existing_directory_writes_the_default_name_inside(tmp_path, capsys):
    folder = tmp_path / "plots"
    folder.mkdir()
    assert main([*FIND, "--out", str(folder)]) == 0
    assert f"plot: {folder / 'lrkit-find.png'}" in capsys.readouterr().out
    assert [p.name for p in folder.iterdir()] == ["lrkit-find.png"]
    assert not (tmp_path / "plots.png").exists()


def test_out_with_a_trailing_separator_is_a_directory_even_when_new(tmp_path, capsys):
    assert main([*FIND, "--out", str(tmp_path / "new") + os.sep]) == 0
    assert (tmp_path / "new" / "lrkit-find.png").is_file()


@pytest.mark.parametrize("argv", [
    FIND,
    ["lab", "sweep", "--num", "3", "--steps", "3"],
    ["diagnose", "nope.csv"],
    ["schedule", "show", "cosine(10)"],
])
def test_an_unsupported_format_fails_before_any_work(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main([*argv, "--out", "x.txt"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "argument --out" in lines[0], lines
    assert "unsupported format 'txt'" in lines[0] and ".png" in lines[0]
    assert list(tmp_path.iterdir()) == []



@pytest.mark.parametrize("argv, name", [
    (FIND, "x.png"),
    (["auto", "--problem", "quadratic"], "x.png"),
    (["tune", "--problem", "quadratic"], "x.png"),
    (["bench", "--problem", "quadratic"], "x.md"),
    (["lab", "sweep", "--num", "3", "--steps", "3"], "x.png"),
])
def test_an_unwritable_out_fails_before_any_work(argv, name, tmp_path, monkeypatch, capsys):
    """Audit case: a path that could not be written was found only when the plot was saved,
    after the whole run, and the results were lost with it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(SystemExit) as info:
        main([*argv, "--out", str(tmp_path / "notes.txt" / name)])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "argument --out" in lines[0] and "is a file, not a folder" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root may write in a read-only folder")
def test_out_in_a_folder_without_write_permission_fails_before_any_work(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(SystemExit) as info:
        main([*FIND, "--out", str(locked / "x.png")])
    assert info.value.code == 2
    assert "cannot write in" in capsys.readouterr().err


def test_plot_path_type_resolves_paths(tmp_path):
    convert = plot_path_type("default.png")
    assert convert("none") == "none" and convert("NONE") == "none"
    assert convert("a.PDF") == "a.PDF"
    assert convert(str(tmp_path / "plot")) == str(tmp_path / "plot.png")
    assert convert(str(tmp_path)) == str(tmp_path / "default.png")
    with pytest.raises(argparse.ArgumentTypeError, match="unsupported format 'md'"):
        convert("table.md")


def test_plot_formats_are_matplotlibs():
    from matplotlib.backend_bases import FigureCanvasBase

    from lrkit.cli._common import PLOT_FORMATS

    assert PLOT_FORMATS <= set(FigureCanvasBase.get_supported_filetypes())


def test_every_plot_format_accepted_writes_a_plot_with_text(tmp_path):
    # pgf is among matplotlib's filetypes, but with any text it needs a TeX installation,
    # and would fail only after the work was done
    import matplotlib.pyplot as plt

    from lrkit.cli._common import PLOT_FORMATS

    fig, ax = plt.subplots(figsize=(2, 2), dpi=30)
    ax.plot([1, 2], [3, 1])
    ax.set_xlabel("learning rate")
    try:
        for fmt in sorted(PLOT_FORMATS):
            fig.savefig(tmp_path / f"plot.{fmt}")
            assert (tmp_path / f"plot.{fmt}").stat().st_size > 0, fmt
    finally:
        plt.close(fig)


def test_a_closed_stdout_ends_quietly():
    # what `lrkit find ... | head -1` does once head has read its line
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrkit.cli.main", *FIND, "--out", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_name_flags_replaces_whole_names_only():
    flags = {"num": "--num", "steps": "--steps"}
    assert name_flags("`num` must be >= 2, but got num=1", flags) == \
        "`--num` must be >= 2, but got --num=1"
    text = "`warmup_steps` must be >= 0, but got warmup_steps=-5 (in steps=3)"
    assert name_flags(text, flags) == \
        "`warmup_steps` must be >= 0, but got warmup_steps=-5 (in --steps=3)"
    assert name_flags("`num` x", None) == "`num` x"


def test_name_flags_leaves_the_users_quoted_text_alone():
    """A schedule such as 'warmup(steps=5, ...)' is the user's text: '--steps=5' inside it
    would misquote what they typed."""
    flags = {"steps": "--steps", "text": "--schedule"}
    message = ("`text` is not a valid schedule, but got text='cosine(steps=-1)': steps=-1 "
               "is negative; the problem's steps=200")
    assert name_flags(message, flags) == (
        "`--schedule` is not a valid schedule, but got --schedule='cosine(steps=-1)': "
        "--steps=-1 is negative; the problem's --steps=200")
    assert name_flags('got text="a\\"steps=1" and steps=2', flags) == \
        'got --schedule="a\\"steps=1" and --steps=2'


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_out_in_proc_fails_before_any_work_even_for_root(capsys):
    # permission bits let root "write" there; only a real write finds that it cannot
    with pytest.raises(SystemExit) as info:
        main([*FIND, "--out", "/proc/x.png"])
    assert info.value.code == 2
    assert "cannot write in '/proc'" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["find", "--num", "10"], ["auto", "--steps", "40"]])
def test_json_stdout_holds_only_the_document_when_a_problem_file_prints(command, tmp_path,
                                                                         capsys):
    """Audit case: a user's problem file that printed put its text before the JSON."""
    import json

    source = tmp_path / "chatty.py"
    source.write_text('print("hello from user module")\n'
                      "from lrkit.problems import get\n\n\n"
                      "def make():\n"
                      '    print("building the problem")\n'
                      '    return get("quadratic")\n')
    assert main([command[0], "--problem", f"{source}:make", *command[1:], "--json",
                 "--out", "none"]) == 0
    captured = capsys.readouterr()
    assert isinstance(json.loads(captured.out), dict)
    assert "hello from user module" in captured.err and "building the problem" in captured.err
