"""Registered metrics. Importing this package registers every built-in analyzer."""

from workbench.metrics import basic  # noqa: F401
from workbench.metrics.registry import Analyzer, MetricSpec, Score, analyzer, get_analyzer, list_analyzers, metric_specs

__all__ = ["Analyzer", "MetricSpec", "Score", "analyzer", "get_analyzer", "list_analyzers", "metric_specs"]
