"""DATA TERRA VRE hub parts: traitlets-configurable pieces for jupyterhub_config.py and the `vre` CLI."""

from vre_core import __version__

__all__ = ["__version__"]
