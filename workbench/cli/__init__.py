"""The ``workbench`` command line: :mod:`.main` (the verbs and exit codes), :mod:`.notebooks` (batch, compare)."""
