"""The workbench's version (recorded in every run folder and clip provenance)."""

__version__ = "0.1.0"
