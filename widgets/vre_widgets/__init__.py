"""Dataset discovery widgets (ipywidgets) over the vre_catalog search API.

    from vre_widgets import DatasetBrowser
    DatasetBrowser()
"""

from .browser import DatasetBrowser
from .explorer import DatasetExplorer

__all__ = ["DatasetBrowser", "DatasetExplorer"]
