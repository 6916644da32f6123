"""The standalone HTML report: :mod:`.html` (page, table, scrubbing), :mod:`.data` (what the report
notebook shows), :mod:`.render` (papermill, nbconvert, bundle, the results index)."""
