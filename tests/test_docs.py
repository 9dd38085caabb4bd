"""The documents that describe the project stay true to it."""

from __future__ import annotations

import re
from pathlib import Path

from graph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_documents_every_setting() -> None:
    """Every Settings field (and the old key-id alias) appears in .env.example."""
    text = (ROOT / ".env.example").read_text()
    names = {name.upper() for name in Settings.model_fields} | {"KALSHI_API_KEY"}
    missing = sorted(n for n in names if not re.search(rf"^#?\s*{n}=", text, re.M))
    assert missing == []


def test_readme_configuration_table_names_every_setting() -> None:
    """The README's configuration table lists every setting."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## How it works")]
    missing = sorted(n.upper() for n in Settings.model_fields if f"`{n.upper()}`" not in table)
    assert missing == []


def test_readme_folder_picture_matches_the_tree() -> None:
    """Each module of graph/ is in the README's folder picture, and every entry exists."""
    readme = (ROOT / "README.md").read_text()
    picture = readme[readme.index("## Layout") :]
    listed = set(re.findall(r"^  ([\w/]+(?:\.py)?)\s", picture, re.M))
    actual = {p.name for p in (ROOT / "graph").glob("*.py") if p.name != "__init__.py"}
    actual |= {p.name + "/" for p in (ROOT / "graph").iterdir() if (p / "__init__.py").exists()}
    assert listed == actual


def test_readme_shows_the_two_commands_first() -> None:
    """A newcomer sees `make serve` and `make test` before anything else to run."""
    readme = (ROOT / "README.md").read_text()
    first_block = readme[readme.index("```") : readme.index("```", readme.index("```") + 3)]
    assert "make serve" in first_block and "make test" in first_block


def test_every_subpackage_opens_with_how_it_works() -> None:
    """Each package directly under graph/ explains itself in its docstring."""
    packages = [p for p in (ROOT / "graph").iterdir() if (p / "__init__.py").exists()]
    missing = [
        p.name for p in packages if "how it works" not in (p / "__init__.py").read_text().lower()
    ]
    assert packages and missing == []


def test_no_graph_module_is_over_400_lines() -> None:
    """Modules stay small enough to read in one sitting (tables live in data files)."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "graph").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}
