"""Registered metrics. Importing this package registers every built-in analyzer."""

from workbench.metrics import acoustic, basic, coherence, foley, lipsync  # noqa: F401  (registration)
from workbench.metrics.registry import Analyzer, MetricSpec, Score, analyzer, get_analyzer, list_analyzers, metric_specs

__all__ = ["Analyzer", "MetricSpec", "Score", "analyzer", "get_analyzer", "list_analyzers", "metric_specs"]
