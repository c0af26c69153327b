"""The emulator package imports nothing else from disputedesk (it must stand on its own)."""

from __future__ import annotations

import ast
from pathlib import Path

import disputedesk.emulator

PACKAGE = "disputedesk.emulator"
ROOT = Path(disputedesk.emulator.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def _imported_names(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Absolute names of every import in the file (relative ones resolved)."""
    source = path.read_text() if source is None else source
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def test_emulator_imports_nothing_else_from_disputedesk() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) > 20  # the walk really found the package
    outside = [f"{path.relative_to(ROOT)}:{line} imports {name}"
               for path in files for line, name in _imported_names(path)
               if (name == "disputedesk" or name.startswith("disputedesk."))
               and not (name == PACKAGE or name.startswith(PACKAGE + "."))]
    assert outside == []


def test_the_import_check_resolves_relative_imports() -> None:
    # guards against a check that cannot fail: ".." from a top-level module leaves the package
    assert _imported_names(ROOT / "probe.py", "from .. import errors\n") == [(1, "disputedesk")]
    assert _imported_names(ROOT / "resources" / "probe.py", "from .. import errors\n") == [
        (1, "disputedesk.emulator")]
