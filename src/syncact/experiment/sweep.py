"""The ``[sweep]`` stage: every method x number of FBNs through the same pairing (the paper's ablation)."""

from __future__ import annotations

from syncact.analysis import Fit, GroundTruth, MethodComparison, compare_methods
from syncact.config import ExperimentConfig
from syncact.experiment.layout import RunDirectory
from syncact.experiment.stages import BoldData, Features, network_params
from syncact.networks import BrainNetworks
from syncact.report.figures import ablation_bars, k_sweep_plot


def sweep_methods(config: ExperimentConfig, bold: BoldData, features: Features, truth: GroundTruth | None, tr: float,
                  run_dir: RunDirectory, progress: bool, fitted: dict[tuple[str, int], Fit]) -> MethodComparison:
    """Every method x K (``fitted`` as units) through the same pairing; tables, figures and maps."""
    sweep = config.sweep
    filters = {(key.split("/")[0], key.split("/")[1], layer, label): filt
               for (key, label, layer), (filt, _) in features.alive.items()}

    def save_maps(method: str, k: int, model: BrainNetworks) -> None:
        run_dir.write_maps(run_dir.sweep_maps(method, k, bold.store.map_suffix), bold.store.map_image(model.maps_))

    val = bold.validation
    comparison = compare_methods(
        bold.train, val if len(val) else None, bold.test, filters, methods=sweep.methods, n_networks=sweep.n_networks,
        params=network_params(config, bold.mask_img), groups=bold.train.groups, fitted=fitted,
        pairing={**config.pairing.pair_kwargs(extras=False), "tr": tr},
        normalize=sweep.normalize, truth=truth, progress=progress, on_fit=save_maps)
    for name in ("fits", "ablation", "k_sweep", "matching", "recovery"):
        table = getattr(comparison, name)
        if table is not None:
            run_dir.write_table(f"sweep_{name}", table)
    run_dir.write_table("sweep_scores", comparison.scores, parquet=True)
    run_dir.write_figure("ablation", ablation_bars(comparison.ablation))
    run_dir.write_figure("k_sweep", k_sweep_plot(comparison.k_sweep))
    return comparison
