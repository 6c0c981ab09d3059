"""A methods section for a run, written from what the run did (its configuration, data and provenance).

Every value comes from the resolved configuration, the prepared store, the result or the provenance, so
the paragraph can be pasted into a paper and matches the run it describes.
"""

from __future__ import annotations

from syncact.config import ExperimentConfig
from syncact.experiment.result import ExperimentResult

_TEMPORAL = {"msa": "multi-head self-attention ({heads} heads)", "lstm": "a two-layer LSTM", "none": "no temporal module"}
_IDENTIFY = {"ica": "rotated inside the learned subspace to spatially independent maps (FastICA; the rotation is "
                    "absorbed into encoder and decoder, so the reconstruction is unchanged)",
             "none": "kept as trained (the MSE objective fixes their subspace, not a rotation inside it)"}
_ATLASES = {"dosenbach_2010": "the Dosenbach et al. (2010) coordinate atlas",
            "seitzman_2018": "the Seitzman et al. (2018) coordinate atlas"}
_LAYOUTS = {"bids": "a BIDS dataset", "fmriprep": "fMRIPrep derivatives", "hcp": "an HCP-layout dataset",
            "nifti": "NIfTI files", "arrays": "arrays"}
_HRF = {"none": "raw (not convolved)", "glover": "convolved with the Glover HRF", "spm": "convolved with the SPM HRF"}


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def methods_paragraphs(config: ExperimentConfig, result: ExperimentResult) -> list[str]:
    """Methods paragraphs (plain text) for a run: data, stimulus and models, embedding, pairing, software.

    Parameters
    ----------
    config : ExperimentConfig
        The resolved configuration of the run.
    result : ExperimentResult
        With its provenance (versions, the prepared store's parameters) when the run recorded it.

    Returns
    -------
    list of str
    """
    split = result.split
    n_subjects = sum(len(v) for v in split.values())
    lengths = {run: a.shape[0] for run, a in result.fbn_activations.items()}
    provenance = result.provenance
    sp = provenance.prepared if provenance is not None else {}
    n_voxels = provenance.n_voxels if provenance is not None else None
    grid = (f"resampled to the {sp['target'].upper()} grid at {sp['resolution']} mm" if sp.get("resolution")
            else "on their own grid")
    cleaning = ["linear detrending" if sp.get("detrend") else None,
                f"a cosine high-pass at {sp['high_pass']:g} Hz" if sp.get("high_pass") else None,
                f"regression of {len(sp['confounds'])} confounds" if sp.get("confounds") else None]
    cleaning = [c for c in cleaning if c]
    runs = _join([f"run {run} ({n} volumes)" for run, n in lengths.items()])
    data = (f"fMRI data of {n_subjects} subjects watching movies ({runs}; TR = {result.tr:g} s) were read from "
            f"{_LAYOUTS.get(str(sp.get('layout')), 'a dataset')}, {grid}"
            + (f" within a {n_voxels:,}-voxel group mask" if n_voxels else "")
            + (f", cleaned by {_join(cleaning)}" if cleaning else "")
            + " and z-scored per voxel and run. Subjects were split into "
            f"{len(split['train'])} training, {len(split['validation'])} validation and {len(split['test'])} test subjects "
            "(test subjects were used only for pairing).")
    size = config.frames.size
    models = _join([f"{m.name} ({m.weights} weights; {', '.join(m.layers)})" for m in config.models])
    stimulus = ("For each TR, the movie frame on screen at the "
                + ("end" if config.frames.policy == "last" else "start") + " of the acquisition window"
                + (f" (resized to {size[0]} x {size[1]} pixels)" if size else "")
                + f" went through {models}. Each filter's activation per frame was the spatial "
                f"{config.models[0].reduce} of its feature map; constant filters were left out.")
    emb = config.embedding
    if emb.method == "sync-act":
        embedding = (f"The FBN embedding (Sync-ACT) learned K = {emb.n_networks} functional brain networks: one linear "
                     f"projection from voxels to K shared by all subjects"
                     + (f" (on the first {emb.n_components} principal components of the training data)"
                        if emb.n_components else "")
                     + f", {_TEMPORAL.get(emb.temporal, emb.temporal).format(heads=emb.n_heads)}, a symmetric decoder "
                     f"and a mean squared reconstruction error, trained for up to {emb.n_epochs} epochs (learning rate "
                     f"{emb.learning_rate:g}, batch {emb.batch_size}, {emb.lr_schedule} schedule"
                     + (f", early stopping after {emb.patience} epochs without improvement" if emb.patience else "")
                     + f") on the training subjects, validated on the validation subjects. The maps were "
                     f"{_IDENTIFY.get(emb.identify, emb.identify)}. Each test subject's FBN activations were the "
                     "projection of their data; pairing used the mean over test subjects.")
    else:
        embedding = (f"K = {emb.n_networks} networks were found by {emb.method} on the training subjects; test subjects' "
                     "activations were the projection of their data, averaged over test subjects.")
    pc = config.pairing
    n_lags = next(iter(result.pairings.values())).params.get("n_lags") if result.pairings else None
    pairing = (f"Filter activations were {_HRF.get(pc.hrf, pc.hrf)} and paired with FBN activations by Pearson "
               "correlation: each FBN with its best filter (Eq.2) and each filter with its best FBN (Eq.1). "
               f"Significance ({pc.alternative}, alpha = {pc.alpha:g}) was assessed by a circular-shift max-statistic "
               "test that shifts the FBN against all filters"
               + (f" ({n_lags} shifts" + (f", at least {pc.min_shift} TRs" if pc.min_shift else ", at least a tenth of "
                                          "the run") + ")" if n_lags else "")
               + ", which corrects for the choice among filters and keeps the autocorrelation of both series; "
               + {"bh": "Benjamini-Hochberg", "by": "Benjamini-Yekutieli"}[pc.fdr]
               + f" FDR across FBNs. Intervals ({pc.confidence:.0%}) are jackknife intervals over test subjects. "
               "As a control of the whole pipeline, the FBNs were also paired with the filters of another run's movie.")
    if pc.n_phase:
        pairing += f" A phase-randomisation test ({pc.n_phase} surrogates) was run beside it."
    paragraphs = [data, stimulus, embedding, pairing]
    if config.annotation is not None:
        ann = config.annotation
        sources = [_ATLASES.get(a, a) for a in ann.atlases] + (["meta-analytic term maps"] if ann.term_maps else []) + \
            (["user labels"] if ann.fbn_labels else [])
        paragraphs.append(f"FBNs were described by {_join(sources)}; filters by "
                          + _join((["the ImageNet classes they drive"] if ann.classes else [])
                                  + (["frame features"] if ann.features else []) + ["their top frames"])
                          + (f". The agreement of the two descriptions of each pair was tested against {ann.n_perm} "
                             "shuffles of the pairs." if ann.agreement else "."))
    if provenance is not None:
        packages = provenance.packages
        shown = _join([f"{name} {packages[name]}" for name in ("torch", "torchvision", "numpy", "scipy", "nilearn",
                                                              "scikit-learn") if name in packages])
        paragraphs.append(f"The analysis ran with syncact {provenance.syncact} (Python {provenance.python}; {shown}), "
                          f"seed {config.seed}; configuration SHA-256 {provenance.config_sha256[:16]}.")
    return paragraphs
