"""The documented install route for a machine without a Fortran compiler, run as written.

``docs/guides/install.md`` gives ONE line for users who bring their own torch, run in a clone
(structured-ssl is not on an index). This test reads that line from the page and runs it with
``bash`` in a copy of the repository's files (``git ls-files``: what a clone of this checkout
holds) with a fresh virtual environment (with its own pip) whose only preinstalled packages are
a "user's own" torch and torch's dependencies (linked from this interpreter, so torch is not
downloaded). Everything else comes from the package index, so the test needs it and skips with
the reason when it is unreachable. Afterwards: the user's torch is kept, escnn is installed,
py3nj is not, and ``structured-ssl fit --config default`` trains from another directory.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import urllib.request
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from test_wheel_install import fit_from_another_folder, site_packages

REPO = Path(__file__).resolve().parents[2]
INSTALL_PAGE = REPO / "docs/guides/install.md"


def documented_command() -> str:
    """The bash block of the install page's "With your own torch" section."""
    text = INSTALL_PAGE.read_text()
    section = text.split("## With your own torch", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 1, f"the page promises one line: {lines}"
    return lines[0]


def link_user_torch(dest: Path) -> str:
    """Link torch and what it requires (recursively) from this interpreter into ``dest``."""
    dest.mkdir()
    seen: set[str] = set()
    todo = ["torch"]
    while todo:
        name = todo.pop()
        dist = importlib.metadata.distribution(name)
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for entry in {Path(str(f)).parts[0] for f in dist.files or []}:
            if entry in {"..", "__pycache__"} or (dest / entry).exists():
                continue
            (dest / entry).symlink_to(Path(str(dist.locate_file(entry))))
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return importlib.metadata.version("torch")


def copy_tracked_files(dest: Path) -> None:
    """The checkout's tracked files as they are now (links kept), as a clone would hold them."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source, target = REPO / name, dest / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)


def index_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15)
    except OSError:
        return False
    return True


def test_the_install_page_gives_one_line_of_pip_calls() -> None:
    command = documented_command()
    calls = [call.strip() for call in command.split("&&")]
    assert all(call.startswith("pip install ") for call in calls), calls
    assert calls[0] == "pip install .", "from the clone's folder: the package is not on PyPI"
    assert calls[1:] == ["pip install --no-deps escnn==1.0.11"], (
        "pip cannot leave out a declared dependency (py3nj) in one call: install.md says why"
    )


def test_documented_route_keeps_the_users_torch_and_installs_no_py3nj(tmp_path: Path) -> None:
    if not index_reachable():
        pytest.skip("the package index (pypi.org) is unreachable: the documented route needs it")
    clone = tmp_path / "clone"
    copy_tracked_files(clone)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    own_site = site_packages(python)
    torch_version = link_user_torch(tmp_path / "user-torch")
    Path(own_site, "user_torch.pth").write_text(f"{tmp_path / 'user-torch'}\n")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    work = tmp_path / "elsewhere"
    work.mkdir()

    install = subprocess.run(
        ["bash", "-c", documented_command()],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert install.returncode == 0, (install.stdout + install.stderr)[-4000:]

    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util, importlib.metadata as m, torch, escnn, structured_ssl;"
            "print(torch.__version__, torch.__file__);"
            "print(m.version('escnn'), importlib.util.find_spec('py3nj') is None);"
            "print(structured_ssl.__file__)",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    (torch_line, escnn_line, package_line) = probe.stdout.splitlines()[-3:]
    assert torch_line.split()[0] == torch_version, "the user's torch was replaced"
    assert Path(torch_line.split()[1]).is_relative_to(tmp_path / "user-torch"), torch_line
    assert escnn_line == "1.0.11 True", "escnn 1.0.11 installed, py3nj not"
    assert Path(package_line).is_relative_to(env_dir), package_line

    fit_from_another_folder(env_dir / "bin" / "structured-ssl", work, env)
