"""scripts/docstring_roles.py: Sphinx roles become mkdocstrings cross-references to the path the
site documents (resolved in the docstring's scope, as Sphinx would), plain code where the site
has no page for the target; lines it lengthens are broken under ruff's width; a second run
changes nothing. (That the built site prints no role is checked in tests/cli/test_cli_readme.py.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SOURCE = '''\
"""See :mod:`fiber_figure` and :func:`~structured_ssl.callbacks.metrics.fit_linear_classifier`."""

from structured_ssl.encoders.base import LiftedEncoder


class WeightedKNN:
    """Fitted by :meth:`set_memory_bank`, imported :class:`LiftedEncoder`, built-in :class:`ValueError`,
    torch's :class:`torch.nn.Module`, private :class:`_Standardised`, :func:`undocumented`, :data:`~No.here`."""

    #: read by :func:`equivariance_error`
    x = 1

    def set_memory_bank(self):
        """Documented."""
'''

#: a small package of the same shape, so that the test does not follow the real one's moves
PACKAGE = {
    "__init__.py": '"""The package."""\n',
    "callbacks/__init__.py": '"""Callbacks."""\n',
    "callbacks/fiber_figure.py": '"""Figures."""\n',
    "encoders/__init__.py": '"""Encoders."""\n',
    "encoders/base.py": '"""Base."""\n\n\nclass LiftedEncoder:\n    """Documented."""\n',
}
TAIL = '''

def equivariance_error():
    """Documented."""


def fit_linear_classifier():
    """Documented."""


class _Standardised:
    """Private."""


def undocumented():
    pass
'''

EXPECTED = '''\
"""See [`fiber_figure`][structured_ssl.callbacks.fiber_figure] and
[`fit_linear_classifier`][structured_ssl.callbacks.metrics.fit_linear_classifier]."""

from structured_ssl.encoders.base import LiftedEncoder


class WeightedKNN:
    """Fitted by [`set_memory_bank`][structured_ssl.callbacks.metrics.WeightedKNN.set_memory_bank],
    imported [`LiftedEncoder`][structured_ssl.encoders.base.LiftedEncoder], built-in `ValueError`,
    torch's `torch.nn.Module`, private `_Standardised`, `undocumented`, `here`."""

    #: read by [`equivariance_error`][structured_ssl.callbacks.metrics.equivariance_error]
    x = 1

    def set_memory_bank(self):
        """Documented."""
'''


@pytest.fixture(scope="module")
def roles():
    spec = importlib.util.spec_from_file_location(
        "docstring_roles", REPO / "scripts" / "docstring_roles.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_roles_become_cross_references_in_their_scope_or_plain_code(roles, tmp_path: Path) -> None:
    for name, text in {**PACKAGE, "callbacks/metrics.py": SOURCE + TAIL}.items():
        (tmp_path / "structured_ssl" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "structured_ssl" / name).write_text(text)
    package = roles.load_package(tmp_path)
    module = package["callbacks.metrics"]
    rewritten = roles.rewrite_source(package, module, SOURCE)
    assert rewritten == EXPECTED, rewritten
    assert max(len(line) for line in rewritten.splitlines()) <= roles.WIDTH
    assert roles.rewrite_source(package, module, rewritten) == rewritten  # a re-run is a no-op


def test_check_lists_the_roles_left_and_fails(roles, tmp_path: Path, capsys) -> None:
    assert roles.main(["--check", str(REPO / "src" / "structured_ssl" / "callbacks")]) == 0
    (tmp_path / "m.py").write_text('"""Uses :class:`Group`."""\n')
    assert roles.main(["--check", str(tmp_path / "m.py")]) == 1
    assert "m.py: 1 role(s), e.g. :class:`Group`" in capsys.readouterr().out


def test_a_lengthened_line_moves_its_tail_into_the_paragraph_not_onto_a_new_line(roles) -> None:
    old = (
        '"""Summary.\n\n'
        "    A paragraph naming X, whose first line is long enough to overflow once X is a link to\n"
        "    its page, and a second line.\n\n"
        "    Args:\n"
        "        x: kept.\n"
        '    """'
    )
    new = old.replace("naming X", "naming [`X`][structured_ssl.somewhere.deep.X]")
    wrapped = roles.wrap(new, old, 4, comment=False)
    first, *rest = wrapped.splitlines()  # the first line starts at column 4, the rest hold it
    assert len(first) + 4 <= roles.WIDTH and max(len(line) for line in rest) <= roles.WIDTH
    assert len(wrapped.splitlines()) == len(old.splitlines()), wrapped
    assert wrapped.split() == new.split(), "the same words in the same order"
    assert wrapped.endswith('    Args:\n        x: kept.\n    """'), "the next section stays"
