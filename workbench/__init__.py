"""AV Workbench: compare text-to-video models that generate picture and sound together.

Pipeline: prompt -> provider -> store -> analysis -> metrics -> leaderboard -> report.
"""

__version__ = "0.1.0"
