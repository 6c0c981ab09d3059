"""Pair FBNs with ANN filters by the correlation of their temporal activations (Eq.1 and Eq.2)."""

from syncact.sync.correlation import circular_correlation, circular_max, fft_workers, pearson_matrix, standardize
from syncact.sync.hrf import as_paired, hrf_convolve
from syncact.sync.pairing import TESTS, Pairing, pair, phase_surrogates, subject_jackknife

__all__ = ["TESTS", "Pairing", "as_paired", "circular_correlation", "circular_max", "fft_workers", "hrf_convolve", "pair",
           "pearson_matrix", "phase_surrogates", "standardize", "subject_jackknife"]
