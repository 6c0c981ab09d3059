"""Analyses over pairings: paper-style tables and recovery of planted ground truth."""

from syncact.analysis.recovery import fbn_roles, recovery_table
from syncact.analysis.tables import models_by_runs

__all__ = ["fbn_roles", "models_by_runs", "recovery_table"]
