"""Metrics: pure numpy kernels (``kernels/``), one analyzer module per creators' test, the registry.

:mod:`workbench.metrics.spec` (what a metric is), :mod:`workbench.metrics.registry` (which
analyzers exist), :mod:`workbench.metrics.context` (what an analyzer reads);
:mod:`workbench.metrics.builtin` registers the built-in analyzers.
"""
