"""Read the catalogue tree the way intake does: a root YAML whose sources are sub-catalogues (one per pole),
each a classic intake V1 YAML file of ``sources``.  Pure YAML reading: fast, and usable for validation."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

try:  # the C loader is ~10x faster; intake uses yaml.safe_load semantics, which this matches
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pyyaml without libyaml
    _Loader = yaml.SafeLoader

POLES = ("odatis", "aeris", "theia", "formater")
REMOTE_SUFFIX = "_remote"
CATALOG_DRIVERS = {"yaml_file_cat", "intake_catalog", "intake.catalog.local.YAMLFileCatalog"}
_CATALOG_DIR = re.compile(r"\{\{\s*CATALOG_DIR\s*\}\}")
_ENV = re.compile(r"\{\{\s*env\(\s*['\"](?P<name>\w+)['\"]\s*(?:,\s*['\"](?P<default>[^'\"]*)['\"]\s*)?\)\s*\}\}")
REPO_CATALOG = Path(__file__).resolve().parents[1] / "catalog.yaml"
IMAGE_CATALOG = Path("/opt/vre/catalogs/catalog.yaml")


class CatalogFileError(Exception):
    """A catalogue file cannot be read; ``line`` is 1-based when known."""

    def __init__(self, file: Path, message: str, line: int | None = None):
        self.file, self.message, self.line = Path(file), message, line
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {message}")


def default_catalog_path() -> Path:
    """$VRE_CATALOG, else the user image's /opt/vre/catalogs/catalog.yaml, else this repository's catalogue."""
    env = os.environ.get("VRE_CATALOG")
    if env:
        return Path(env)
    if IMAGE_CATALOG.exists():
        return IMAGE_CATALOG
    return REPO_CATALOG


def render(value: str, catalog_dir: Path) -> str:
    """Expand ``{{ CATALOG_DIR }}`` and ``{{ env('NAME', 'default') }}`` (staged copies in Dataref) like intake's
    Jinja templating does: the only templates we use."""
    value = _ENV.sub(lambda m: os.environ.get(m["name"], m["default"] or ""), value)
    return _CATALOG_DIR.sub(str(catalog_dir).replace("\\", "/"), value)


def read_yaml(path: Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogFileError(path, "file not found; check the path (sub-catalogues are relative to {{ CATALOG_DIR }})") from None
    except OSError as exc:
        raise CatalogFileError(path, f"cannot read ({exc.strerror}); check permissions") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise CatalogFileError(path, f"YAML syntax error: {problem}; fix the indentation or quoting on this line", line) from None
    except yaml.YAMLError as exc:
        raise CatalogFileError(path, f"YAML error: {exc}; fix the file") from None
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise CatalogFileError(path, "not an intake catalogue: a top-level `sources:` mapping is missing; add one")
    return data


def source_lines(path: Path) -> dict[str, int]:
    """1-based line of every source name, for error messages."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError):
        return {}
    for key, value in getattr(node, "value", []):
        if getattr(key, "value", None) == "sources" and isinstance(value, yaml.MappingNode):
            return {k.value: k.start_mark.line + 1 for k, _ in value.value}
    return {}


@dataclass
class PoleCatalog:
    pole: str
    file: Path
    sources: dict
    metadata: dict = field(default_factory=dict)


@dataclass
class CatalogTree:
    root: Path
    poles: list[PoleCatalog]


def sub_catalog_path(spec: dict, catalog_dir: Path) -> Path | None:
    if not isinstance(spec, dict) or spec.get("driver") not in CATALOG_DRIVERS:
        return None
    path = (spec.get("args") or {}).get("path")
    return Path(render(str(path), catalog_dir)) if path else None


def read_tree(root: Path) -> CatalogTree:
    """Read the root catalogue and every pole sub-catalogue it lists (raises CatalogFileError)."""
    root = Path(root).resolve()
    data = read_yaml(root)
    poles = []
    for name, spec in data["sources"].items():
        sub = sub_catalog_path(spec, root.parent)
        if sub is None:
            continue
        sub_data = read_yaml(sub)
        poles.append(PoleCatalog(name, sub, sub_data["sources"], sub_data.get("metadata") or {}))
    return CatalogTree(root, poles)
