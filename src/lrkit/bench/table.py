"""Tables of a :class:`~lrkit.bench.runner.BenchResult`: plain text for the terminal and
a Markdown section for ``docs/benchmarks/auto.md``."""

from __future__ import annotations

import math
from typing import Any

from lrkit.bench.runner import BenchResult


def _ratio(value: float) -> str:
    return "diverged" if math.isinf(value) else f"{value:.3f}"


def rows(result: BenchResult) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows: one row per problem (ratio per method), then the summaries."""
    headers = ["problem"] + list(result.methods)
    body: list[list[Any]] = []
    for problem in result.problems:
        body.append([problem] + [_ratio(result.cell(problem, m).ratio) for m in result.methods])
    summaries = {m: result.summary(m) for m in result.methods}
    body.append(["geometric mean"] + [_ratio(summaries[m]["geomean_ratio"]) for m in result.methods])
    body.append(["worst"] + [_ratio(summaries[m]["worst_ratio"]) for m in result.methods])
    n = len(result.problems)
    body.append([f"within 1.15x (of {n})"] + [summaries[m]["within_1.15"] for m in result.methods])
    body.append(["cost (runs)"] + [f"{summaries[m]['cost_runs']:.2f}" for m in result.methods])
    return headers, body


def _seed_luck(result: BenchResult) -> list[tuple[str, str, str, str]]:
    """For auto against each other method: the difference of geometric means, the 90%
    interval it spans when each problem's seeds are resampled (BenchResult.compare) and
    the share of draws auto came out ahead in, formatted for the tables."""
    rows = []
    for other in (m for m in result.methods if m != "auto"):
        c = result.compare("auto", other)
        difference = f"{c['difference']:+.3f}" if math.isfinite(c["difference"]) else "n/a"
        interval = (f"{c['low']:+.3f} .. {c['high']:+.3f}" if math.isfinite(c["low"])
                    else "n/a (diverged)")
        rows.append((other, difference, interval, f"{100 * c['p_better']:.0f}% of draws"))
    return rows


def text_table(result: BenchResult) -> str:
    from lrkit.cli._common import format_table

    headers, body = rows(result)
    text = format_table(headers, body)
    if "auto" in result.methods and len(result.methods) > 1:
        text += ("\n\nauto's geometric mean minus each other method's, with the 90% interval "
                 "when seeds are resampled:")
        for other, difference, interval, ahead in _seed_luck(result):
            text += f"\n  {other:14s} {difference}  [{interval}]  auto better in {ahead}"
    return text


def markdown(result: BenchResult, *, title: str | None = None,
             command: str = "", plot: str | None = None) -> str:
    """A Markdown section: the table, what the numbers mean, the targets and how they fared.
    The default title says what was compared: lrkit auto against the others when it ran."""
    headers, body = rows(result)
    if title is None:
        title = ("lrkit auto against other ways of picking the rate" if "auto" in result.methods
                 else "Ways of picking the rate, side by side")
    lines = [f"## {title}", ""]
    if command:
        lines += [f"Produced by `{command}`.", ""]
    lines += [
        f"Held-out loss ratio to the best of a 4-per-decade grid of full runs (lower is better, "
        f"1.000 = as good as the grid's best); every figure is a mean over {len(result.seeds)} "
        f"seeds (model initialisation and data order). Cost is in full runs: every call of "
        f"the loss function counted, evaluation included.",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for row in body:
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    lines.append("")
    if "auto" in result.methods:
        s = result.summary("auto")
        others = [m for m in result.methods if m != "auto"]
        best_other = min((result.summary(m)["geomean_ratio"] for m in others), default=math.inf)
        checks = [
            ("geometric mean <= 1.05", s["geomean_ratio"] <= 1.05, _ratio(s["geomean_ratio"])),
            ("no problem above 1.15", s["worst_ratio"] <= 1.15, _ratio(s["worst_ratio"])),
            ("cost <= 1.5 runs", s["cost_runs"] <= 1.5 + 1e-9, f"{s['cost_runs']:.2f}"),
            ("better geometric mean than every other method", s["geomean_ratio"] < best_other,
             f"{_ratio(s['geomean_ratio'])} vs {_ratio(best_other)}"),
        ]
        lines += ["Targets for lrkit auto:", ""]
        if not others:  # nothing to compare with: neither met nor missed
            checks.pop()
        lines += [f"- {name}: {'met' if ok else 'NOT met'} ({value})" for name, ok, value in checks]
        if not others:
            lines.append("- better geometric mean than every other method: not measured "
                         "(no other method ran)")
        lines.append("")
        if others:
            lines += [
                f"How much of each difference is seed luck: auto's geometric mean minus the "
                f"other method's, and the 90% interval of that difference when each problem's "
                f"{len(result.seeds)} seeds are resampled with replacement (paired; the grid's "
                f"best held fixed). An interval that spans 0 is no evidence either way.",
                "",
                "| against | difference | 90% interval | auto better in |",
                "|---|---|---|---|",
                *(f"| {' | '.join(row)} |" for row in _seed_luck(result)),
                "",
            ]
    notes = []
    if "tune" in result.methods:
        notes.append("`tune` is judged on its best rate trained at the neighbouring seed (seed "
                     "XOR 1): its trials select on the held-out loss itself, so the best trial's "
                     "own loss is the best of 4 noisy draws on the number reported and flatters it. "
                     "The retraining is not charged to its cost.")
    if "finder" in result.methods:
        notes.append("`finder` is a 100-step range test (lrkit's default rule) plus one run; when "
                     "the rule gives no reliable pick the optimizer's default rate is used.")
    if notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["Grid reference (best rate, best mean held-out loss):", ""]
    for problem in result.problems:
        cell = result.cell(problem, result.methods[0])
        lines.append(f"- {problem}: lr={cell.grid_best_lr:.3g}, loss={cell.grid_best:.4g}")
    lines.append("")
    if plot:
        lines += [f"![ratios]({plot})", ""]
    return "\n".join(lines)
