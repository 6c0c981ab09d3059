"""Analyses over pairings: paper-style tables, method comparisons, matching and recovery of planted truth."""

from syncact.analysis.ablation import ablation_table, paired_scores
from syncact.analysis.comparison import Fit, GroundTruth, MethodComparison, compare_methods, fit_networks, shared_subspace
from syncact.analysis.mapping import layer_mapping, overlap_summary
from syncact.analysis.matching import NetworkMatch, match_networks
from syncact.analysis.recovery import fbn_roles, recovery_table
from syncact.analysis.regression import AccuracyRegression, accuracy_regression
from syncact.analysis.subspace import subspace_units
from syncact.analysis.tables import eq1_vs_eq2, layers_table, models_by_runs

__all__ = [
    "layer_mapping",
    "overlap_summary",
    "AccuracyRegression",
    "Fit",
    "GroundTruth",
    "MethodComparison",
    "NetworkMatch",
    "ablation_table",
    "accuracy_regression",
    "compare_methods",
    "eq1_vs_eq2",
    "fbn_roles",
    "fit_networks",
    "layers_table",
    "match_networks",
    "models_by_runs",
    "paired_scores",
    "recovery_table",
    "shared_subspace",
    "subspace_units",
]
