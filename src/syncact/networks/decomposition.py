"""Baselines under the embedding's interface: group ICA, dictionary learning, PCA, shared response model.

Each is a :class:`~syncact.networks.base.BrainNetworks`: ``fit(runs, validation, groups=...)``, then
``maps_`` (K x voxel, peak positive) and ``transform(run)`` (time x K), so the pairing stage takes any
of them unchanged. :func:`make_networks` builds one by name (``method=``), including the three variants
of the Sync-ACT embedding (``"lt"``, ``"lt+lstm"``, ``"lt+msa"``).

* ``canica``: nilearn's :class:`~nilearn.decomposition.CanICA` (Varoquaux et al. 2010): subject PCA,
  group CCA, FastICA. ``dictlearning``: nilearn's :class:`~nilearn.decomposition.DictLearning` (sparse
  maps; Mensch et al. 2016). Both are fitted on images of the runs rebuilt on the mask (one at a time);
  smoothing, detrending and standardisation are off because prepared runs are already cleaned and
  z-scored. Their time series for any run are the least-squares fit by the maps, as nilearn's
  ``transform`` computes them.
* ``pca``: the top K principal directions of the stacked training runs (orthonormal maps, projection).
* ``srm``: brainiak's probabilistic shared response model (Chen et al. 2015), an optional extra
  (``pip install "syncact[srm]"``). SRM learns one orthonormal map per training subject for a response
  shared over time, so it needs every training subject to have seen the same runs (``groups``). The
  group map is the mean of the subjects' maps; runs of new subjects are fitted by it by least squares.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import nibabel as nib
import numpy as np

from syncact._validation import check_choice, check_positive
from syncact.exceptions import ConfigError, DataError
from syncact.networks.base import BrainNetworks, LinearNetworks
from syncact.networks.embedding import FBNEmbedding
from syncact.networks.subspace import check_rank, principal_subspace, run_shapes

logger = logging.getLogger(__name__)


class _RunImages(Sequence[nib.Nifti1Image]):
    """Runs as 4D images on the mask, built one at a time when nilearn asks for them."""

    def __init__(self, runs: Sequence[np.ndarray], mask_img: nib.Nifti1Image) -> None:
        self.runs, self.mask_img = runs, mask_img
        self.mask = np.asarray(mask_img.dataobj) > 0

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - int or slice, as a Sequence
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        x = np.asarray(self.runs[index], dtype=np.float32)
        volume = np.zeros((*self.mask.shape, x.shape[0]), dtype=np.float32)
        volume[self.mask] = x.T
        return nib.Nifti1Image(volume, self.mask_img.affine)


def _report_warnings(caught: list[warnings.WarningMessage], method: str) -> None:
    """Pass on nilearn's / scikit-learn's warnings once per kind instead of once per component or subject.

    The masker-versus-estimator ``mask_strategy`` notice is dropped: the mask is given, no strategy runs.
    """
    kinds: dict[tuple[type, str], int] = {}
    for w in caught:
        text = str(w.message)
        if "mask_strategy" in text:
            continue
        key = (w.category, text.split(".")[0][:120])
        kinds[key] = kinds.get(key, 0) + 1
    for (category, text), count in kinds.items():
        warnings.warn(f"{method}: {text} ({count} time(s) during the fit).", category, stacklevel=3)


class _NilearnDecomposition(LinearNetworks):
    """Shared fit of nilearn's CanICA / DictLearning on runs given as arrays on a mask."""

    def __init__(self, n_networks: int = 64, *, mask_img: nib.Nifti1Image | None = None, options: dict | None = None,
                 seed: int = 0, progress: bool = False) -> None:
        self.n_networks, self.mask_img, self.seed, self.progress = n_networks, mask_img, seed, progress
        self.options = options  # kept as given (scikit-learn's contract); copied where used

    def _estimator(self, masker: object) -> object:
        raise NotImplementedError

    def fit(self, runs: Sequence[np.ndarray], validation: Sequence[np.ndarray] | None = None, *,
            groups: Sequence[str] | None = None) -> _NilearnDecomposition:
        from nilearn.maskers import MultiNiftiMasker

        check_positive("n_networks", self.n_networks, integer=True)
        if self.mask_img is None:
            raise ConfigError(f"method={self.method!r} fits nilearn on images and needs mask_img (the mask of the runs' "
                              "voxels, e.g. PreparedStore.mask_img()).")
        shapes = run_shapes(runs)
        check_rank(None, self.n_networks, shapes)
        n_mask = int((np.asarray(self.mask_img.dataobj) > 0).sum())
        if shapes[0][1] != n_mask:
            raise DataError(f"runs have {shapes[0][1]} voxels but mask_img has {n_mask}; pass the mask the runs were "
                            "prepared on.")
        masker = MultiNiftiMasker(mask_img=self.mask_img, standardize=None, detrend=False).fit()
        estimator = self._estimator(masker)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(_RunImages(runs, self.mask_img))
        _report_warnings(caught, self.method)
        self._set_maps(estimator.components_)
        self.estimator_ = estimator
        return self


class GroupICA(_NilearnDecomposition):
    """Group ICA by nilearn's CanICA (``options`` go to :class:`nilearn.decomposition.CanICA`, e.g. ``n_init``).

    Parameters
    ----------
    n_networks : int, default=64
    mask_img : Nifti1Image
        Mask whose voxels (C order) are the runs' columns.
    options : dict, optional
        Further CanICA parameters (default ``n_init=10``, ``threshold=None``: maps are kept unthresholded).
    seed : int, default=0
    progress : bool, default=False
    """

    method = "canica"

    def _estimator(self, masker: object) -> object:
        from nilearn.decomposition import CanICA

        options = {"n_init": 10, "threshold": None, **(self.options or {})}
        return CanICA(mask=masker, n_components=self.n_networks, smoothing_fwhm=None, standardize=None,
                      detrend=False, random_state=self.seed, verbose=0, **options)


class DictionaryLearning(_NilearnDecomposition):
    """Sparse maps by nilearn's DictLearning; parameters as :class:`GroupICA` (``options``: e.g. ``alpha``, ``n_epochs``)."""

    method = "dictlearning"

    def _estimator(self, masker: object) -> object:
        from nilearn.decomposition import DictLearning

        return DictLearning(mask=masker, n_components=self.n_networks, smoothing_fwhm=None, standardize=None,
                            detrend=False, random_state=self.seed, verbose=0, **(self.options or {}))


class GroupPCA(LinearNetworks):
    """The top K principal directions of the stacked training runs (exact, or randomized passes for many runs)."""

    method = "pca"

    def __init__(self, n_networks: int = 64, *, seed: int = 0, progress: bool = False) -> None:
        self.n_networks, self.seed, self.progress = n_networks, seed, progress

    def fit(self, runs: Sequence[np.ndarray], validation: Sequence[np.ndarray] | None = None, *,
            groups: Sequence[str] | None = None) -> GroupPCA:
        check_positive("n_networks", self.n_networks, integer=True)
        check_rank(None, self.n_networks, run_shapes(runs))
        basis = principal_subspace(runs, self.n_networks, seed=self.seed, progress=self.progress)
        self._set_maps(basis.double().numpy().T)
        return self


class SharedResponse(LinearNetworks):
    """brainiak's probabilistic SRM; ``groups`` (subject of each run) is required, see the module docstring."""

    method = "srm"

    def __init__(self, n_networks: int = 64, *, n_iter: int = 10, seed: int = 0, progress: bool = False) -> None:
        self.n_networks, self.n_iter, self.seed, self.progress = n_networks, n_iter, seed, progress

    def fit(self, runs: Sequence[np.ndarray], validation: Sequence[np.ndarray] | None = None, *,
            groups: Sequence[str] | None = None) -> SharedResponse:
        try:
            from brainiak.funcalign.srm import SRM
        except ImportError as exc:
            raise ConfigError(f"method='srm' needs brainiak ({exc}); install it with pip install \"syncact[srm]\" "
                              "(brainiak and an MPI library from PyPI).") from exc
        check_positive("n_networks", self.n_networks, integer=True)
        shapes = run_shapes(runs)
        if groups is None or len(groups) != len(runs):
            raise ConfigError("method='srm' needs groups: the subject of each training run (SRM aligns subjects that "
                              "saw the same stimulus).")
        order = list(dict.fromkeys(groups))
        per_subject = {g: [i for i, h in enumerate(groups) if h == g] for g in order}
        layouts = {g: tuple(shapes[i][0] for i in idx) for g, idx in per_subject.items()}
        if len(set(layouts.values())) > 1:
            raise DataError(f"SRM needs every training subject to have the same runs in the same order; got run lengths "
                            f"{dict(list(layouts.items())[:4])}.")
        if len(order) < 2:
            raise DataError(f"SRM needs at least 2 training subjects, got {order}.")
        check_rank(None, self.n_networks, [(sum(layouts[order[0]]), shapes[0][1])])
        data = [np.vstack([np.asarray(runs[i], dtype=np.float64) for i in per_subject[g]]).T for g in order]
        srm = SRM(n_iter=self.n_iter, features=self.n_networks, rand_seed=self.seed).fit(data)
        self._set_maps(np.mean(srm.w_, axis=0).T)
        self.estimator_ = srm
        return self


VOLUME_METHODS = ("canica", "dictlearning")
"""Methods that fit nilearn on NIfTI images (they need a volume mask)."""
METHODS = {"sync-act": FBNEmbedding, "canica": GroupICA, "dictlearning": DictionaryLearning, "pca": GroupPCA,
           "srm": SharedResponse}
# The paper's ablation names for the embedding's three variants.
VARIANTS = {"lt": "none", "lt+lstm": "lstm", "lt+msa": "msa"}


def method_names() -> list[str]:
    """Every name :func:`make_networks` accepts."""
    return [*VARIANTS, *METHODS]


def network_spec(method: str, **params: object) -> tuple[str, dict[str, object]]:
    """What identifies a brain-network model: its class's name and the parameters that class takes.

    The variants resolve to the embedding (``"lt+msa"`` is ``"sync-act"`` with ``temporal="msa"``), and
    settings the class does not take are dropped with a debug message, so one set of settings can be
    passed to every method, and two names for the same model give the same spec (a unit's key uses it).

    Returns
    -------
    name : str
        A key of ``METHODS`` (``"sync-act"``, ``"canica"``, ``"dictlearning"``, ``"pca"``, ``"srm"``).
    params : dict
        The parameters, less those the class does not take.
    """
    name = check_choice("method", str(method).lower(), method_names())
    if name in VARIANTS:
        name, params = "sync-act", {**params, "temporal": VARIANTS[name]}
    accepted = set(METHODS[name]._get_param_names()) - {"n_networks"}  # scikit-learn's parameter list
    dropped = sorted(set(params) - accepted)
    if dropped:
        logger.debug("method %s does not use %s", name, dropped)
    return name, {k: v for k, v in params.items() if k in accepted}


def make_networks(method: str = "sync-act", n_networks: int = 64, **params: object) -> BrainNetworks:
    """Build a brain-network model by name, unfitted.

    Parameters
    ----------
    method : str, default="sync-act"
        ``"sync-act"`` (:class:`FBNEmbedding`; ``temporal`` in ``params``), its variants ``"lt"``,
        ``"lt+lstm"``, ``"lt+msa"`` (case-insensitive), or a baseline: ``"canica"``, ``"dictlearning"``,
        ``"pca"``, ``"srm"``.
    n_networks : int, default=64
    **params
        Parameters of that class; those it does not take are dropped (:func:`network_spec`).

    Returns
    -------
    BrainNetworks
    """
    name, kept = network_spec(method, **params)
    return METHODS[name](n_networks, **kept)
