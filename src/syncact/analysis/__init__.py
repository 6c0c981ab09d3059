"""Analyses over pairings: paper-style tables, method comparisons, matching and recovery of planted truth."""

from syncact.analysis.ablation import ablation_table, paired_scores
from syncact.analysis.comparison import GroundTruth, MethodComparison, compare_methods
from syncact.analysis.matching import NetworkMatch, match_networks
from syncact.analysis.recovery import fbn_roles, recovery_table
from syncact.analysis.tables import models_by_runs

__all__ = [
    "GroundTruth",
    "MethodComparison",
    "NetworkMatch",
    "ablation_table",
    "compare_methods",
    "fbn_roles",
    "match_networks",
    "models_by_runs",
    "paired_scores",
    "recovery_table",
]
