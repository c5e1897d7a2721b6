"""Fixtures of the catalogue tests: the repository catalogue with its samples generated once."""
from __future__ import annotations

from pathlib import Path

import pytest

from vre_catalog.layout import REPO_CATALOG
from vre_catalog.samples import generate, load_registry

CATALOG_DIR = REPO_CATALOG.parent


def _samples_complete(samples: Path) -> bool:
    return all((samples / rel).exists() for rel in load_registry())


@pytest.fixture(scope="session")
def catalog_path() -> Path:
    """The repository's root catalogue; its samples are generated into catalogs/samples when missing."""
    samples = CATALOG_DIR / "samples"
    if not _samples_complete(samples):
        generate(samples, log=lambda *_: None)
    return REPO_CATALOG


@pytest.fixture(scope="session")
def index(catalog_path):
    from vre_catalog import CatalogIndex

    return CatalogIndex.from_catalog(catalog_path)


@pytest.fixture
def catalog_copy(tmp_path, catalog_path) -> Path:
    """A private copy of the catalogue YAML files (samples symlinked), safe to break."""
    from .stage_servers import copy_catalog

    return copy_catalog(tmp_path)
