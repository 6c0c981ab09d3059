"""The options of :func:`syncact.sync.pair`, checked in one place: by ``pair`` itself and by ``[pairing]``.

A new option of ``pair`` gets its check here; :func:`syncact.config.parse_config` calls
:func:`check_pair_options` on the ``[pairing]`` section (``PairingConfig.pair_kwargs()``) with the
prefix ``"pairing."``, so the message names the config key.
"""

from __future__ import annotations

from syncact._validation import check_choice, check_level, check_positive
from syncact.sync.hrf import HRF_MODELS

ALTERNATIVES = ("greater", "two-sided")
FDR_METHODS = ("bh", "by")


def check_pair_options(*, prefix: str = "", alpha: float = 0.05, min_shift: int | None = None, hrf: str = "none",
                       n_phase: int = 0, max_lag: int = 0, alternative: str = "greater", fdr: str = "bh") -> None:
    """Raise a named error for any option of :func:`syncact.sync.pair` outside its domain.

    Parameters
    ----------
    prefix : str, default=""
        Put before each option's name in messages (``"pairing."`` for the config section).
    alpha, min_shift, hrf, n_phase, max_lag, alternative, fdr
        As :func:`syncact.sync.pair` takes them.
    """
    check_level(f"{prefix}alpha", alpha)
    if min_shift is not None:
        check_positive(f"{prefix}min_shift", min_shift, integer=True)
    check_choice(f"{prefix}hrf", hrf, ("none", *HRF_MODELS))
    check_positive(f"{prefix}n_phase", n_phase, integer=True, allow_zero=True)
    check_positive(f"{prefix}max_lag", max_lag, integer=True, allow_zero=True)
    check_choice(f"{prefix}alternative", alternative, ALTERNATIVES)
    check_choice(f"{prefix}fdr", fdr, FDR_METHODS)
