"""Assemble docs/benchmarks.md from the sections the benchmark scripts write.

Each script under benchmarks/ (and `lrkit bench`) writes its own Markdown section to
docs/benchmarks/<topic>.md; this script joins them, in a fixed order, under one page.

    python benchmarks/assemble.py
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs" / "benchmarks"
ORDER = ["problems", "schedules", "finder", "guard", "guard_faults", "tune", "auto",
         "auto_seeds8", "auto_heldout", "auto_heldout_seeds47", "auto_longer", "auto_horizon", "auto_validation", "auto_budget", "auto_cost", "lab"]

INTRO = """# Benchmarks

Every figure here is produced by a script in `benchmarks/` (or by `lrkit bench`), and the
section below names the command that regenerates it. Speed is always measured side by side
with the peer in the same run and reported as a ratio: these machines are shared and noisy,
so absolute times vary from run to run. Quality figures are means over at least 4 seeds
(model initialisation and data order), because one seed's held-out loss varies by 10-50%
at the same rate on problems of this size.

Measured on: {machine}.
"""


def _rebase_links(text: str) -> str:
    """Relative links of a section point from docs/benchmarks/; the page is in docs/."""
    return re.sub(r"\]\((?!https?:|/|#)([^)]+)\)", r"](benchmarks/\1)", text)


def main() -> None:
    present = {path.stem: path for path in SECTIONS.glob("*.md")}
    names = [name for name in ORDER if name in present]
    names += sorted(name for name in present if name not in ORDER)
    machine = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, 2 CPU cores"
    parts = [INTRO.format(machine=machine)]
    parts += [_rebase_links(present[name].read_text().strip()) + "\n" for name in names]
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(parts))
    print(f"wrote docs/benchmarks.md from {len(names)} sections: {', '.join(names)}")


if __name__ == "__main__":
    main()
