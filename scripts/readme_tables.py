"""Keep every result table of the README and the documentation site tied to a committed result file.

The README and the site's pages (``docs/**/*.md``, e.g. the result pages in ``docs/reports/``)
mark each result table as a block::

    <!-- table source="docs/results/NAME/report.md" section="Table 1" regenerate="COMMAND" -->
    ...generated...
    <!-- /table -->

``write`` rewrites the blocks of every such page; it replaces each block's body with the named
section of its source file (its Markdown
tables), followed by a line naming the source and the command that regenerates it. A block
whose source is not in the repository keeps its old text under a plain "not on record" line
with that command. ``check`` exits 1, naming the pages, when a page differs from what ``write``
would make (the test suite runs the same comparison). ``record RESULTS_DIR NAME`` copies a grid's output (``table.md``,
``table.csv``, ``runs.csv``, plus ``report.md`` when ``structured-ssl report`` understands it,
and a one-line ``totals.md``) to ``docs/results/NAME/``, so a later grid (e.g. the full paper
grid) lands on record with one command, then ``write`` puts it in the pages that cite it.

Usage::

    python scripts/readme_tables.py record results/paper-mnist-small paper-mnist-small
    python scripts/readme_tables.py write
    python scripts/readme_tables.py check
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
BLOCK = re.compile(r"(<!-- table (?P<attrs>[^\n]*?)-->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
ATTR = re.compile(r'(\w+)="([^"]*)"')
NOTE = re.compile(r"^(_Source: |\*\*Not on record\*\*).*\n?", re.M)
GRID_FILES = ("table.md", "table.csv", "runs.csv")


def section(text: str, name: str | None) -> str:
    """The Markdown under the first heading containing ``name`` (up to the next heading of the
    same or a higher level); the whole text when ``name`` is None."""
    if not name:
        return text.strip()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        heading = re.match(r"^(#+)\s", line)
        if heading and name in line:
            level = len(heading.group(1))
            body = []
            for later in lines[i + 1 :]:
                other = re.match(r"^(#+)\s", later)
                if other and len(other.group(1)) <= level:
                    break
                body.append(later)
            return "\n".join(body).strip()
    raise SystemExit(f"readme_tables: no heading containing {name!r} in the source")


def demote_headings(text: str) -> str:
    """A source's own headings become bold lines, so they do not split the page's sections."""
    return re.sub(r"^#+\s+(.*)$", r"**\1**", text, flags=re.M)


def render(attrs: dict[str, str], old_body: str, root: Path) -> str:
    source, command = attrs.get("source", ""), attrs.get("regenerate", "")
    path = root / source
    if source and path.is_file():
        body = demote_headings(section(path.read_text(), attrs.get("section")))
        return f"{body}\n\n_Source: `{source}`; regenerate: `{command}`._\n"
    kept = NOTE.sub("", old_body).strip()
    note = f"**Not on record** (no result file in the repository): regenerate with `{command}`."
    return f"{note}\n\n{kept}\n" if kept else f"{note}\n"


def pages(root: Path = REPO) -> list[Path]:
    """The README and every Markdown page of the site that holds at least one table block."""
    candidates = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return [p for p in candidates if p.is_file() and BLOCK.search(p.read_text())]


def stale(root: Path = REPO) -> list[Path]:
    """Pages whose blocks differ from what ``write`` makes."""
    return [p for p in pages(root) if rewrite(p.read_text(), root) != p.read_text()]


def rewrite(readme: str, root: Path = REPO) -> str:
    def replace(match: re.Match[str]) -> str:
        attrs = dict(ATTR.findall(match.group("attrs")))
        return match.group(1) + render(attrs, match.group("body"), root) + match.group(4)

    return BLOCK.sub(replace, readme)


def totals(runs_csv: Path) -> str:
    """ "N runs, M min of process time" from a grid's runs.csv."""
    with open(runs_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r["process_s"]) for r in rows if r.get("process_s"))
    return f"## totals\n\n{len(rows)} runs, {seconds / 60:.0f} min of process time (sum of runs.csv process_s).\n"


def record(results_dir: Path, name: str, root: Path = REPO) -> Path:
    """Copy a grid's output to docs/results/NAME (and its paper report, when there is one)."""
    target = root / "docs" / "results" / name
    target.mkdir(parents=True, exist_ok=True)
    missing = [f for f in GRID_FILES if not (results_dir / f).is_file()]
    if missing:
        raise SystemExit(
            f"readme_tables: {results_dir} has no {', '.join(missing)} (is it a grid's --out folder?)"
        )
    for name_ in GRID_FILES:
        shutil.copy2(results_dir / name_, target / name_)
    (target / "totals.md").write_text(totals(results_dir / "runs.csv"))
    report = subprocess.run(
        [sys.executable, "-m", "structured_ssl.cli", "report", str(results_dir), "--out", str(target)],
        capture_output=True, text=True,
    )  # fmt: skip
    if report.returncode != 0:
        print(
            f"readme_tables: no paper report for {results_dir} "
            f"(structured-ssl report said: {report.stderr.strip()[-300:]})"
        )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "write", help="rewrite the table blocks of the README and docs/ from their sources"
    )
    commands.add_parser("check", help="exit 1 if a page's blocks are not what `write` makes")
    rec = commands.add_parser("record", help="copy a grid's output folder to docs/results/NAME")
    rec.add_argument("results_dir", type=Path)
    rec.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "record":
        print(
            f"recorded {record(args.results_dir, args.name)}; now run: python scripts/readme_tables.py write"
        )
        return 0
    if args.command == "check":
        differ = stale()
        for page in differ:
            print(f"{page.relative_to(REPO)}: result tables differ from their sources")
        if differ:
            print("run: python scripts/readme_tables.py write")
        return 1 if differ else 0
    for page in pages():
        page.write_text(rewrite(page.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
