"""The built wheel, installed into a fresh virtual environment, trains from another directory.

Why: the checkout hides packaging mistakes (configs read from the repo root, modules imported
from ``src/``). Here the wheel is built from this checkout, installed with ``--no-deps`` into a
new venv whose only other packages are this interpreter's (torch, escnn, ... reached through a
``.pth`` line, so nothing is downloaded), and ``structured-ssl fit --config default`` runs in a
temporary directory with no ``configs/`` beside it. The test asserts that the installed copy,
not ``src/``, ran.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("structured_ssl-*.whl")
    return wheel


def site_packages(python: Path) -> str:
    """The site-packages folder of the venv whose interpreter is ``python``."""
    return subprocess.run(
        [python, "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def fresh_venv(path: Path) -> Path:
    """A venv without pip whose site-packages also reads this interpreter's installed packages."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    python = path / "bin" / "python"
    own = site_packages(python)
    # a plain path line: the base's packages are importable, but ITS .pth files (the editable
    # install of this checkout) are not run, so `structured_ssl` can only come from the wheel
    Path(own, "zz_base_packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def test_wheel_ships_configs_license_and_typing_marker(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n for n in names if n.startswith("structured_ssl/configs/")}
    in_repo = {
        f"structured_ssl/configs/{p.relative_to(REPO / 'configs').as_posix()}"
        for p in (REPO / "configs").rglob("*.yaml")
    }
    assert shipped == in_repo, sorted(in_repo ^ shipped)
    assert "structured_ssl/py.typed" in names
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "License-Expression: MIT" in metadata
    assert any(n.endswith("licenses/LICENSE") for n in names)
    requires = [
        line
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert not any("escnn" in r or "py3nj" in r for r in requires), (
        "the base install must not need a Fortran compiler"
    )


def test_installed_wheel_fits_on_embedded_digits_from_another_directory(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    python = fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # --ignore-installed: the base's own (editable) structured-ssl must not count as installed
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [python, "-c", "import structured_ssl; print(structured_ssl.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr
    where = where.stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), where
    listing = subprocess.run(
        [tmp_path / "venv" / "bin" / "structured-ssl", "configs"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert "default" in listing and "paper/small" in listing
    version = subprocess.run(
        [tmp_path / "venv" / "bin" / "structured-ssl", "--version"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert version.strip() == "structured-ssl 0.1.0"
    fit_from_another_folder(tmp_path / "venv" / "bin" / "structured-ssl", work, env)


def fit_from_another_folder(executable: Path, work: Path, env: dict[str, str]) -> None:
    """A tiny ``fit --config default`` by an installed entry point, run from ``work`` (outside
    the checkout): it must train and write its checkpoint under ``work/runs``."""
    fit = subprocess.run(
        [
            executable,
            "fit",
            "--config",
            "default",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--data.init_args.train_subset=256",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert list((work / "runs").rglob("last.ckpt")), "the fit wrote its checkpoint under ./runs"
