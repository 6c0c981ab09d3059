"""Analyses over pairings: paper-style tables and recovery of planted ground truth."""

from syncact.analysis.recovery import match_maps, recovery_table
from syncact.analysis.tables import models_by_runs

__all__ = ["match_maps", "models_by_runs", "recovery_table"]
