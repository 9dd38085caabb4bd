"""The package layering of graph/ holds: no module imports from a package above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GRAPH = Path(__file__).resolve().parents[1] / "graph"

# Lower layers never import higher ones; packages of one layer never import each other, except
# the plain shared modules of layer 0.
LAYERS: dict[str, int] = {
    "models": 0,
    "errors": 0,
    "cache": 0,
    "backoff": 0,
    "http": 0,
    "budget": 0,
    "tracing": 0,
    "teams": 0,
    "kalshi": 1,
    "cluster": 1,
    "espn": 1,
    "model": 1,
    "games": 2,
    "live": 2,
    "web": 3,
    "api": 4,
    "settings": 2,
    "assembly": 5,
    "app": 6,
    "workers": 6,
    "__main__": 7,
}
# The simulator stands apart: it may use plain shared data, never the code it is used to test.
SIM_MAY_IMPORT = frozenset({"models", "errors"})


def _unit(module: str) -> str:
    """``graph.kalshi.feed`` -> ``kalshi``; ``graph.models`` -> ``models``."""
    return module.split(".")[1]


def _imports(path: Path) -> list[str]:
    """Every ``graph.*`` module ``path`` imports (type-checking-only imports included)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "graph":
                found += [f"graph.{alias.name}" for alias in node.names]
            elif node.module.startswith("graph."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("graph.")]
    return found


def _modules() -> list[Path]:
    return sorted(GRAPH.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(GRAPH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(GRAPH.parent)))
def test_no_module_imports_from_a_package_above_it(path: Path) -> None:
    """Each import stays in its own package, goes down a layer, or is the version string."""
    name = _name(path)
    if name == "graph":
        return
    unit = _unit(name)
    bad = []
    for target in _imports(path):
        if target == "graph.__version__" or _unit(target) == unit:
            continue
        if unit == "sim":
            if not any(
                target == f"graph.{m}" or target.startswith(f"graph.{m}.") for m in SIM_MAY_IMPORT
            ):
                bad.append(target)
        elif _unit(target) == "sim":
            if unit not in ("app", "__main__"):
                bad.append(target)
        elif (
            LAYERS[_unit(target)] >= LAYERS[unit] and not LAYERS[unit] == LAYERS[_unit(target)] == 0
        ):
            bad.append(target)
    assert bad == [], f"{name} imports {bad}"


def test_every_top_level_unit_has_a_layer() -> None:
    """A new module or package must be placed in the layering on purpose."""
    units = {_unit(_name(p)) for p in _modules() if _name(p) != "graph"}
    assert units - set(LAYERS) - {"sim"} == set()


def test_only_the_api_package_imports_strawberry() -> None:
    """Strawberry stays behind graph.api; websockets behind the Kalshi feed."""
    strawberry = [p for p in _modules() if "strawberry" in _third_party(p)]
    websockets = [p for p in _modules() if "websockets" in _third_party(p)]
    assert {_unit(_name(p)) for p in strawberry} == {"api"}
    assert {_name(p) for p in websockets} <= {"graph.kalshi.feed", "graph.sim.kalshi_ws"}


def _third_party(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
    return roots
