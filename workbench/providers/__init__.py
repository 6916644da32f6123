"""Providers: one module per vendor protocol (HTTP only), the local reference models, the folder importer.

:mod:`workbench.providers.base` says what an adapter is; :mod:`workbench.providers.registry`
maps ``vendor/model`` ids to adapters and lists the offline catalogue; :mod:`.probe` checks the
catalogue against the live services with the user's keys.
"""
