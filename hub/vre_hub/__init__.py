"""DATA TERRA VRE hub parts: traitlets-configurable pieces for jupyterhub_config.py and the `vre` CLI."""

__version__ = "0.1.0"
