"""Claims of the README and the documentation site that a file in the repository decides: result
tables generated from their sources, the objective switch the README shows, the checkpoint
cadence per config, the install's constraints and its Python floor; and the site builds with
`mkdocs build --strict` (no broken link or reference)."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
LONG_RUNS = (REPO / "docs" / "guides" / "long-runs.md").read_text()


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_result_tables_of_readme_and_site_are_what_their_sources_make() -> None:
    tables = load_script("readme_tables")
    pages = tables.pages()
    assert REPO / "README.md" in pages and REPO / "docs/reports/paper-grid.md" in pages
    assert tables.stale() == [], "run: python scripts/readme_tables.py write"
    blocks = [block for page in pages for block in tables.BLOCK.findall(page.read_text())]
    assert len(blocks) >= 20
    for _, attrs, body, _ in blocks:
        source = dict(tables.ATTR.findall(attrs))["source"]
        on_record = (REPO / source).is_file()
        assert body.startswith("**Not on record**") != on_record, source
    assert len(tables.BLOCK.findall(README)) == 1, "the README shows one headline result"


def test_check_names_a_stale_page(tmp_path: Path) -> None:
    tables = load_script("readme_tables")
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "r.md").write_text("| a |\n| --- |\n| 1 |\n")
    block = '<!-- table source="docs/results/r.md" regenerate="CMD" -->\nold\n<!-- /table -->\n'
    (tmp_path / "README.md").write_text("no blocks here\n")
    (tmp_path / "docs" / "page.md").write_text(block)
    assert tables.pages(tmp_path) == [tmp_path / "docs" / "page.md"]
    assert tables.stale(tmp_path) == [tmp_path / "docs" / "page.md"]
    page = tmp_path / "docs" / "page.md"
    page.write_text(tables.rewrite(page.read_text(), tmp_path))
    assert tables.stale(tmp_path) == [] and "| 1 |" in page.read_text()


def test_readme_objective_switch_is_the_default_configs_class_path_line(capsys) -> None:
    line = re.search(r"^  class_path: (\S+)\s+# was: (\S+)$", README, re.M)
    assert line, "the README's one-line switch moved"
    new, old = line.groups()
    assert f"  class_path: {old}\n" in (REPO / "configs/default.yaml").read_text()
    command = re.search(
        r"`(structured-ssl fit --config configs/default.yaml --model\.class_path \S+)`", README
    ).group(1)
    assert command.endswith(new)
    with pytest.raises(SystemExit) as exit_info:
        main([*shlex.split(command)[1:], "--print_config"])
    assert exit_info.value.code in (0, None)
    assert yaml.safe_load(capsys.readouterr().out)["model"]["class_path"] == new


def test_site_builds_strict_without_broken_links(tmp_path: Path) -> None:
    """The whole site, API reference included; --strict turns every warning (a link to a page
    or anchor that does not exist, a reference mkdocstrings cannot resolve) into a failure."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "NO_MKDOCS_2_WARNING": "1",
        "DISABLE_MKDOCS_2_WARNING": "true",
    }
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (
        tmp_path / "site" / "reference" / "structured_ssl" / "groups" / "base" / "index.html"
    ).is_file()
    assert (tmp_path / "site" / "reports" / "paper-grid" / "index.html").is_file()
    check_api_reference(tmp_path / "site" / "reference")


RAW_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|obj|exc):(?:`|<code>)")


def check_api_reference(reference: Path) -> None:
    """No Sphinx role printed raw (scripts/docstring_roles.py rewrites them), the package page
    links every public name, and the methods' pages describe their parameters (inherited ones
    too: scripts/griffe_inherited_params.py)."""
    raw = {
        page.relative_to(reference).parent.as_posix(): RAW_ROLE.findall(page.read_text())
        for page in reference.rglob("*.html")
    }
    raw = {page: roles for page, roles in raw.items() if roles}
    assert not raw, f"{len(raw)} pages print Sphinx roles (run scripts/docstring_roles.py): {raw}"
    import structured_ssl

    package_page = (reference / "structured_ssl" / "index.html").read_text()
    for name in structured_ssl.__all__[1:]:
        link = rf'<a [^>]*href="[^"]*#structured_ssl\.[\w.]+"[^>]*><code>{name}</code></a>'
        assert re.search(link, package_page), f"the package page does not link {name}"
    for module, name in [("base", "SSLMethod"), ("structured", "StructuredSSL"),
                         ("augmentation", "AugmentationSSL")]:  # fmt: skip
        page = (reference / "structured_ssl" / "methods" / module / "index.html").read_text()
        section = page.split(f'id="structured_ssl.methods.{module}.{name}"', 1)[1]
        section = re.split(r'<div class="doc doc-object doc-(?:class|function)">', section)[0]
        tables = [part.split("</table>")[0] for part in section.split("Parameters:")[1:]]
        rows = re.findall(  # its own parameters and those it passes on (scripts/griffe_...)
            # a row's FIRST cell is the parameter (a default of ``None`` is a code cell too)
            r"<tr[^>]*>\s*<td>\s*<code>(\w+)</code>.*?doc-md-description\">\s*<p>(.*?)</p>",
            "".join(tables),
            flags=re.S,
        )
        described = {parameter for parameter, text in rows if len(text.split()) >= 3}
        assert {"group", "encoder", "pairs", "loss", "optimizer"} <= described, (name, rows)


def test_record_copies_a_grid_and_write_puts_it_in_the_readme(tmp_path: Path) -> None:
    tables = load_script("readme_tables")
    grid = tmp_path / "grid"
    grid.mkdir()
    (grid / "table.md").write_text(
        "## test/linear_acc (%)\n\n| objective | x |\n| --- | --- |\n| structured | 12.3 ± 0.4 |\n"
    )
    (grid / "table.csv").write_text("objective,x\nstructured,12.3\n")
    with open(grid / "runs.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [["objective", "process_s"], ["structured", "60"], ["structured", "120"]]
        )
    target = tables.record(grid, "demo", root=tmp_path)
    assert (target / "table.md").read_text() == (grid / "table.md").read_text()
    assert "2 runs, 3 min of process time" in (target / "totals.md").read_text()
    readme = '<!-- table source="docs/results/demo/table.md" regenerate="CMD" -->\nold\n<!-- /table -->\n'
    new = tables.rewrite(readme, root=tmp_path)
    assert "| structured | 12.3 ± 0.4 |" in new and "old" not in new
    assert "**test/linear_acc (%)**" in new, "a source's headings must not become README headings"
    assert "_Source: `docs/results/demo/table.md`; regenerate: `CMD`._" in new
    missing = tables.rewrite(readme.replace("demo", "absent"), root=tmp_path)
    assert missing.count("**Not on record**") == 1 and "old" in missing
    assert tables.rewrite(missing, root=tmp_path) == missing, "write twice = write once"


def test_docs_checkpoint_cadence_matches_every_trainer_config() -> None:
    claim = re.search(
        r"5 for (.*?), 500 for (.*?),\s+100 for (.*?)\(`every_n_train_steps`",
        LONG_RUNS,
        re.S,
    )
    assert claim, "the cadence sentence of docs/guides/long-runs.md moved"
    five = set(re.findall(r"`configs/([\w/*]+)\.yaml`", claim.group(1)))
    five_hundred = set(re.findall(r"`configs/([\w/*]+)\.yaml`", claim.group(2)))
    datasets = sorted((REPO / "configs").glob("datasets/*.yaml")) + sorted(
        (REPO / "configs").glob("paper/datasets/*.yaml")
    )
    one_hundred = set(re.findall(r"`configs/([\w/*]+)\.yaml`", claim.group(3)))
    assert len(datasets) == 10
    for path in datasets:
        trainer = yaml.safe_load(path.read_text())["trainer"]
        if isinstance(trainer, str):  # an included trainer file
            trainer = yaml.safe_load((path.parent / trainer).read_text())
        steps = [
            cb["init_args"]["every_n_train_steps"]
            for cb in trainer["callbacks"]
            if "every_n_train_steps" in cb.get("init_args", {})
        ]
        name = str(path.relative_to(REPO / "configs").with_suffix(""))
        expected = 5 if name in five else 100 if name in one_hundred else 500
        assert steps == [expected], f"{path}: {steps}"
        assert (
            name in five
            or name in five_hundred
            or name in one_hundred
            or name.startswith("paper/")
            and "paper/datasets/*" in five_hundred
        )


def test_constraints_pin_every_dependency_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    assert "torch" not in pins, "torch comes from TORCH_SPEC (CPU here, CUDA on a GPU)"
    assert "structured-ssl" not in pins
    for requirement in map(
        Requirement,
        project["dependencies"]
        + project["optional-dependencies"]["dev"]
        + project["optional-dependencies"]["docs"],
    ):
        if requirement.name == "torch":
            continue
        version = pins.get(requirement.name.lower())
        assert version is not None, f"{requirement.name} missing from constraints.txt"
        assert requirement.specifier.contains(version), (
            f"{requirement.name}=={version} outside {requirement.specifier}"
        )
    assert (
        "-c $(CONSTRAINTS)" in (REPO / "Makefile").read_text()
        and "CONSTRAINTS ?= constraints.txt" in (REPO / "Makefile").read_text()
    )


def test_deps_script_lists_one_requirement_a_line_and_explains_a_missing_toml_reader() -> None:
    listed = subprocess.run(
        [sys.executable, "scripts/deps.py", "escnn", "torch"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    names = [Requirement(line).name for line in listed.stdout.splitlines()]
    assert "lightning" in names and "escnn" not in names and "torch" not in names
    no_toml = (
        "import sys, runpy; sys.modules['tomllib'] = None; sys.modules['tomli'] = None; "
        "runpy.run_path('scripts/deps.py', run_name='__main__')"
    )
    old_python = subprocess.run(
        [sys.executable, "-c", no_toml], cwd=REPO, capture_output=True, text=True
    )
    assert old_python.returncode == 1 and old_python.stdout == ""
    assert "needs Python 3.11+ (tomllib) or the tomli package" in old_python.stderr


def test_readme_python_floor_is_the_one_the_makefile_and_pyproject_state() -> None:
    assert (
        "Python 3.11+" in README
        and "Python 3.11+" in (REPO / "docs/getting-started.md").read_text()
    )
    assert "sys.version_info < (3, 11)" in (REPO / "Makefile").read_text()
    assert (
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
        == ">=3.11"
    )
