"""Intake catalogues of the four DATA TERRA poles: schema, validation, search, samples.

>>> from vre_catalog import CatalogIndex
>>> idx = CatalogIndex.from_catalog()
>>> idx.search("sea surface temperature", facets={"pole": ["odatis"]}).entries
"""
from .index import FACETS, CatalogIndex, Entry, SearchResult
from .layout import POLES, default_catalog_path

__all__ = ["CatalogIndex", "Entry", "SearchResult", "FACETS", "POLES", "default_catalog_path"]
