"""The names are spelled once (semconv.py), documented once (docs/), and listed in the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from stripe_otel import semconv
from stripe_otel.config import KNOBS

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "semantic-conventions.md").read_text()
README = (ROOT / "README.md").read_text()
NAMES = semconv.ALL_ATTRIBUTES | semconv.ALL_SPAN_NAMES | semconv.ALL_METRICS


def test_every_name_is_documented() -> None:
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", DOC))
    missing = sorted(name for name in NAMES if name not in documented)
    assert not missing, f"not in docs/semantic-conventions.md: {missing}"


def test_doc_names_nothing_we_do_not_emit() -> None:
    documented = set(re.findall(r"`((?:stripe|stripe_otel)\.[a-z_.]+)`", DOC))
    allowed = NAMES | {semconv.INSTRUMENTATION_NAME}
    unknown = sorted(name for name in documented if name not in allowed)
    assert not unknown, f"documented but never emitted: {unknown}"


def test_no_other_module_spells_a_name() -> None:
    offenders = []
    for path in (ROOT / "stripe_otel").rglob("*.py"):
        if path.name == "semconv.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in NAMES:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not offenders, offenders


def test_readme_lists_every_setting() -> None:
    missing = [knob.env for knob in KNOBS if f"`{knob.env}`" not in README]
    assert not missing, f"README lacks: {missing}"


def test_version_matches_pyproject() -> None:
    from stripe_otel.version import __version__

    assert f'version = "{__version__}"' in (ROOT / "pyproject.toml").read_text()
