"""The layers of the hub-side code, read from the source (ast, nothing imported).

``vre_core`` is the bottom layer: it imports none of the others. The hub (``vre_hub``) imports
only ``vre_core``; the jobs service (``vre_jobs``) and the workshop tools (``vre_workshop``)
import only ``vre_core``, never the hub nor each other. ``hub/jupyterhub_config.py`` is where
they meet (it may import the extensions' ``hubconfig`` modules). A module started as a script
or sent as source into a container (``python -c``) is parsed like the others.

Run with ``-s`` to see the graph: one line per package-to-package edge, with the modules that
make it.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "vre_core": ROOT / "hub" / "vre_core",
    "vre_hub": ROOT / "hub" / "vre_hub",
    "vre_jobs": ROOT / "extensions" / "vre_jobs",
    "vre_workshop": ROOT / "extensions" / "vre_workshop",
    "vre_gateway": ROOT / "extensions" / "vre_gateway",
}
#: package -> the project packages it must never import
FORBIDDEN = {
    "vre_core": {"vre_hub", "vre_jobs", "vre_workshop", "vre_gateway"},
    "vre_hub": {"vre_jobs", "vre_workshop", "vre_gateway"},
    "vre_jobs": {"vre_hub", "vre_workshop", "vre_gateway"},
    "vre_workshop": {"vre_hub", "vre_jobs", "vre_gateway"},
    "vre_gateway": {"vre_hub", "vre_jobs", "vre_workshop"},
}
CONFIG = ROOT / "hub" / "jupyterhub_config.py"


def module_name(package: str, path: Path) -> str:
    parts = [package, *path.relative_to(PACKAGES[package]).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(module: str, path: Path) -> set[str]:
    """Every module ``path`` imports (anywhere in it, also inside functions), absolute."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                if keep < 1:  # `from .. import x` out of a top-level package: a hidden edge
                    found.add(f"<above {base[0]}>")
                    continue
                target = ".".join(base[:keep] + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import mod`
    return found


def graph() -> dict[tuple[str, str], set[str]]:
    """(importing package, imported package) -> importing modules."""
    edges = defaultdict(set)
    sources = [(package, path) for package, folder in PACKAGES.items() for path in sorted(folder.rglob("*.py"))]
    for package, path in sources:
        module = module_name(package, path)
        for target in imported(module, path):
            top = target.split(".")[0]
            if (top in PACKAGES and top != package) or top.startswith("<above"):
                edges[(package, top)].add(module)
    for target in imported("jupyterhub_config", CONFIG):
        top = target.split(".")[0]
        if top in PACKAGES:
            edges[("jupyterhub_config", top)].add(target)
    return edges


def test_layers():
    edges = graph()
    print()
    for (source, target), modules in sorted(edges.items()):
        print(f"{source} -> {target}: {', '.join(sorted(modules))}")
    broken = [
        f"{source} imports {target} ({', '.join(sorted(modules))})"
        for (source, target), modules in sorted(edges.items())
        if target in FORBIDDEN.get(source, ())
    ]
    assert not broken, "; ".join(broken)
    above = [f"{m}" for (source, target), m in edges.items() if target.startswith("<above")]
    assert not above, f"relative imports out of a package: {above}"
    # Each upper package does use the core (the graph is not empty by accident).
    assert {("vre_hub", "vre_core"), ("vre_jobs", "vre_core"), ("vre_workshop", "vre_core")} <= set(edges)


def test_config_uses_only_public_hubconfig_of_extensions():
    """jupyterhub_config.py wires the extensions through their ``hubconfig`` modules only."""
    extension_imports = {
        target
        for target in imported("jupyterhub_config", CONFIG)
        if target.split(".")[0] in {"vre_jobs", "vre_workshop", "vre_gateway"}
    }
    assert extension_imports, "the config wires the jobs service and workshops"
    assert all(
        target.split(".")[1:2] == ["hubconfig"] or target in {"vre_jobs", "vre_workshop", "vre_gateway"}
        for target in extension_imports
    ), extension_imports


def test_relative_imports_resolve():
    """The parser's reading of relative imports (the graph depends on it)."""
    path = PACKAGES["vre_workshop"] / "cli.py"
    names = imported("vre_workshop.cli", path)
    assert "vre_workshop.context" in names and "vre_workshop.errors" in names
