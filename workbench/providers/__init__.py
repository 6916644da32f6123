"""Providers: one module per vendor protocol (HTTP only), the local reference models, the folder importer.

:mod:`workbench.providers.base` says what an adapter is; :mod:`workbench.providers.registry`
maps ``vendor/model`` ids to adapters and lists the offline catalogue.
"""
