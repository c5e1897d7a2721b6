"""Scheduled parameterised notebooks: a JupyterHub service built on papermill."""

__version__ = "0.1.0"
