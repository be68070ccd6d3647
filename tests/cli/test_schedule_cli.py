"""``lrkit schedule show`` and ``lrkit schedule list``, run in-process through ``main``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrkit import schedules as S
from lrkit.cli.main import main


def test_show_prints_a_table_of_sampled_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "show", "warmup(100, cosine(1000, final=0.1))"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("warmup(100, cosine(1000, final=0.1))")
    assert "horizon 1100" in lines[0]
    assert lines[1].split() == ["step", "multiplier"]
    rows = [line.split() for line in lines[3:]]
    assert len(rows) == 11 and rows[0][0] == "0" and rows[-1][0] == "1100"
    s = S.parse("warmup(100, cosine(1000, final=0.1))")
    for step, value in rows:
        assert float(value) == pytest.approx(s(int(step)), rel=1e-3)


def test_show_json_with_base_lr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "show", "cosine_restarts(100, mult=2)", "--steps", "700",
                 "--points", "8", "--base-lr", "0.5", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    s = S.cosine_restarts(100, mult=2)
    assert payload["schedule"] == str(s) and S.from_dict(payload["dict"]) == s
    assert payload["total_steps"] == 700 and payload["horizon"] is None
    assert len(payload["steps"]) == 8 and payload["steps"][-1] == 699
    np.testing.assert_allclose(payload["multipliers"], s(np.array(payload["steps"])))
    np.testing.assert_allclose(payload["lrs"], 0.5 * np.array(payload["multipliers"]))
    assert payload["max"] == 1.0


def test_show_writes_a_png(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "plots" / "wsd.png"
    assert main(["schedule", "show", "wsd(1000, 100, 200, decay='1-sqrt')", "--plot",
                 str(target), "--log"]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot written to {target}" in capsys.readouterr().out


def test_list_shows_every_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in S.FACTORIES:
        assert any(line.startswith(f"{name}(") for line in lines)
    assert max(len(line) for line in lines) <= 88  # fits a terminal
    assert main(["schedule", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list(S.FACTORIES)
    assert all(row["signature"] and row["summary"] for row in rows)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["schedule", "show", "cosin(100)"], "unknown schedule 'cosin'"),
        (["schedule", "show", "cosine(100"], "must be a schedule expression"),
        (["schedule", "show", "cosine(-1)"], "`total_steps` must be a positive integer"),
        (["schedule", "show", "step(10, 0.5)"], "`--steps` must be given"),
        (["schedule", "show", "cosine(10)", "--steps", "0"], "`--steps` must be a positive integer"),
        (["schedule", "show", "cosine(10)", "--points", "0"], "`--points` must be"),
        (["schedule", "show", "cosine(10)", "--base-lr", "-1"], "`--base-lr` must be > 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], fragment: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit schedule show: error: ")
    assert fragment in lines[0]


def test_argument_type_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["schedule", "show", "cosine(10)", "--steps", "ten"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid int value: 'ten'" in err and "Traceback" not in err


def test_show_evaluates_a_bounded_number_of_steps(monkeypatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from lrkit.cli.commands import schedule as command

    sizes = []
    original = S.Schedule.__call__

    def counting(self, step):  # type: ignore[no-untyped-def]
        sizes.append(np.size(step))
        return original(self, step)

    monkeypatch.setattr(S.Schedule, "__call__", counting)
    assert main(["schedule", "show", "cosine(100000000000)", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["total_steps"] == 100_000_000_001
    assert payload["steps"][-1] == 100_000_000_000 and payload["multipliers"][-1] == 0.0
    assert payload["min"] == 0.0 and payload["max"] == 1.0
    assert payload["sampled_steps"] is not None
    assert max(sizes) <= command.SAMPLED + 11
    # a short schedule still reads every step: exact min and max, nothing sampled
    assert main(["schedule", "show", "cosine(1000)", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sampled_steps"] is None


def test_show_text_says_min_and_max_were_sampled(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "show", "cosine(50000000)"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(f"min 0, max 1 over {10_001} sampled steps)"), first


def test_show_plot_of_a_huge_schedule_samples_it(tmp_path, monkeypatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.axes

    drawn = []
    original = matplotlib.axes.Axes.plot

    def plot(self, x, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(len(x))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", plot)
    target = tmp_path / "big.png"
    assert main(["schedule", "show", "cosine(100000000000)", "--out", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn and max(drawn) <= 10_001 + 11


def test_show_out_is_plot_and_a_directory_gets_schedule_png(tmp_path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    assert main(["schedule", "show", "cosine(100)", "--out", str(tmp_path)]) == 0
    assert f"plot written to {tmp_path / 'schedule.png'}" in capsys.readouterr().out
    assert (tmp_path / "schedule.png").is_file()


def test_steps_past_2_53_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "show", "exponential(0.5)", "--steps", str(2**53 + 1)]) == 2
    assert "`--steps` must be at most 2**53" in capsys.readouterr().err
