"""Encoding models beside the Sync-ACT pairing: banded ridge over layer features, cross-validated over runs,
and the noise ceiling that inter-subject correlation implies for naturalistic data.

- :mod:`~syncact.encoding.features`: one delayed, z-scored feature band per layer (:func:`band_features`);
- :mod:`~syncact.encoding.model`: :func:`fit_encoding` (himalaya's ridge / banded ridge, primal or dual by
  shape, leave one run out, targets in chunks) and :class:`EncodingScores`;
- :mod:`~syncact.encoding.ceiling`: leave-one-out ISC (:func:`isc`), :func:`noise_ceiling`, :func:`ceiled`, and
  ceiled scores with a jackknife interval over subjects (:func:`jackknife_ceiled`);
- :mod:`~syncact.encoding.summary`: tables per band and per atlas network (:func:`band_table`, :func:`network_table`);
- :mod:`~syncact.encoding.store`: every voxel of a prepared store, streamed (:func:`encode_store`, ``syncact encode``).
"""

from syncact.encoding.ceiling import (
    CeiledScores,
    ceiled,
    isc,
    jackknife_ceiled,
    mean_ceiling,
    noise_ceiling,
    shared_variance,
)
from syncact.encoding.features import band_features, default_delays, delayed
from syncact.encoding.model import EncodingResult, EncodingScores, choose_solver, fit_encoding, resolve_backend
from syncact.encoding.store import StoreEncoding, atlas_networks, encode_store, streamed_isc
from syncact.encoding.summary import band_table, network_table, score_maps

__all__ = ["CeiledScores", "EncodingResult", "EncodingScores", "StoreEncoding", "atlas_networks", "band_features", "band_table",
           "ceiled", "choose_solver", "default_delays", "delayed", "encode_store", "fit_encoding", "isc", "jackknife_ceiled",
           "mean_ceiling", "network_table", "noise_ceiling", "resolve_backend", "score_maps", "shared_variance",
           "streamed_isc"]
