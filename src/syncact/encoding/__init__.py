"""Encoding models beside the Sync-ACT pairing: banded ridge over layer features, cross-validated over runs,
and the noise ceiling that inter-subject correlation implies for naturalistic data.

- :mod:`~syncact.encoding.features`: one delayed, z-scored feature band per layer (:func:`band_features`);
- :mod:`~syncact.encoding.model`: :func:`fit_encoding` (himalaya's ridge / banded ridge, primal or dual by
  shape, leave one run out, targets in chunks) and :class:`EncodingScores`;
- :mod:`~syncact.encoding.ceiling`: leave-one-out ISC (:func:`isc`), :func:`noise_ceiling`, :func:`ceiled`.
"""

from syncact.encoding.ceiling import ceiled, isc, noise_ceiling, shared_variance
from syncact.encoding.features import band_features, default_delays, delayed
from syncact.encoding.model import EncodingResult, EncodingScores, choose_solver, fit_encoding

__all__ = ["EncodingResult", "EncodingScores", "band_features", "ceiled", "choose_solver", "default_delays", "delayed", "fit_encoding",
           "isc", "noise_ceiling", "shared_variance"]
