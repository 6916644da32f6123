"""Importing this module registers every built-in analyzer (listed in the order of ``spec.BUILTIN``)."""

from workbench.metrics import acoustic, basic, coherence, foley, lipsync, speech

#: The modules that define the built-in analyzers (workers import these).
MODULES = (basic, acoustic, lipsync, coherence, foley, speech)
