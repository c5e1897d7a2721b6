"""The one place the widgets touch the catalogue search API (vre_catalog, issue 3).

There is no second search engine here: every query, facet count and dataset open goes
through ``CatalogIndex`` so that the widgets always agree with ``vre catalog search``.
"""

from __future__ import annotations

FACETS = ("pole", "sample", "variable", "platform", "provider")
"""Facets shown as filters, in display order (the search API knows a few more)."""


class CatalogUnavailable(RuntimeError):
    """The catalogue could not be loaded; the message says how to fix it."""


def load_index(index=None, path=None):
    """Return ``index`` if given, else the default catalogue's ``CatalogIndex``."""
    if index is not None:
        return index
    try:
        from vre_catalog import CatalogIndex
    except ImportError as exc:  # the catalogue package is part of this project
        raise CatalogUnavailable(
            f"the catalogue package is not installed ({exc}); install the project with "
            "`pip install -e .[user]`"
        ) from exc
    try:
        return CatalogIndex.from_catalog(path=path)
    except Exception as exc:
        raise CatalogUnavailable(
            f"could not read the dataset catalogue ({exc}); check it with `vre catalog check`"
        ) from exc


def entry_variables(entry) -> list[dict]:
    """The entry's variables as dicts with name/standard_name/units/long_name keys."""
    return [v if isinstance(v, dict) else {"name": str(v)} for v in (entry.variables or [])]
