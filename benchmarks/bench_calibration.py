"""Calibration and power of every pairing test, side by side, over many simulated datasets.

Run:  .venv/bin/python benchmarks/bench_calibration.py [--datasets 300] [--timepoints 200] [--phase 199]

Filters are real: EfficientNet-Lite0 (ImageNet weights, offline) ``block3`` (112 filters) and ``last_conv``
(1,280 filters) activations of movies rendered by the embedded-dataset generator (real photos, cuts,
camera moves), so the filter side has the autocorrelation and the cross-correlations of a CNN watching a
movie. Each simulated dataset draws K = 16 FBN series of T time points (TR 1 s) and one movie:

``null_spontaneous``
    Every FBN is spontaneous activity (slow AR(1) neural activity through the HRF, as the embedded
    dataset plants it) plus AR(1) noise (phi 0.3): nothing links the brain to the movie.
``null_shuffled``
    Every FBN is *driven* by a random filter of another movie (HRF-convolved, plus noise), paired with
    this movie's filters: real stimulus-driven structure on both sides, wrongly matched.
``power`` (``power_glover``)
    4 FBNs are driven by filters of this movie's layer (amplitude ``--snr`` against unit noise), 12 are
    spontaneous; pairing without HRF (the paper) and with the Glover HRF.

Each test's calls at alpha = 0.05 are counted per FBN (false-positive rate on null FBNs, power on driven
ones); ``any_*``: the family-wise rate (any FBN called) under the complete nulls; ``fdp_*``: the realised
false discovery proportion of the Benjamini-Hochberg procedures where driven FBNs exist; ``mean_*``: the
tests of the mean PCC (Eq.2 and Eq.1) under the complete nulls.
Target of the issue: the autocorrelation-aware max-statistic test within [0.03, 0.07].
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _harness import peak_gb, write_record

from syncact.ann import extract_activations, get_model
from syncact.simulate.bold import ar1, bold_timecourse, spontaneous_timecourse
from syncact.simulate.dataset import FRAME_SIZE
from syncact.simulate.movie import make_movie
from syncact.stimulus import sync_frames
from syncact.sync import pair

K, N_DRIVEN, TR = 16, 4, 1.0
LAYERS = ("block3", "last_conv")


def movie_filters(n_movies: int, n_timepoints: int, workdir: Path) -> list[dict[str, np.ndarray]]:
    """Lite0 activations (T, F) per layer for ``n_movies`` movies of the embedded dataset's kind."""
    model = get_model("efficientnet_lite0", "imagenet")
    out = []
    for m in range(n_movies):
        path = workdir / f"movie-{m}.mp4"
        make_movie(path, n_timepoints * TR + 1.0, size=FRAME_SIZE, seed=1000 + m)
        frames = sync_frames(path, TR, n_timepoints, size=FRAME_SIZE)
        acts = extract_activations(frames.images, model, list(LAYERS), cache=None)
        out.append({layer: a[:, a.std(axis=0) > 1e-8].astype(np.float64) for layer, a in acts.layers.items()})
    return out


def _noise(rng: np.random.Generator, t: int, k: int) -> np.ndarray:
    return ar1(rng, t, k, 0.3).astype(np.float64)


def simulate(scenario: str, rng: np.random.Generator, movies: list[dict[str, np.ndarray]], layer: str,
             snr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One dataset: FBN series (T, K), the filters they are paired with (T, F), and which FBNs are driven (K,)."""
    a, b = rng.choice(len(movies), size=2, replace=False)
    filters = movies[a][layer]
    t = filters.shape[0]
    driven = np.zeros(K, dtype=bool)
    spontaneous = np.column_stack([spontaneous_timecourse(rng, t, TR) for _ in range(K)])
    if scenario == "null_spontaneous":
        fbn = spontaneous + 0.5 * _noise(rng, t, K)
    elif scenario == "null_shuffled":
        other = movies[b][layer]
        picks = rng.choice(other.shape[1], size=K, replace=False)
        fbn = np.column_stack([bold_timecourse(other[:, j], TR) for j in picks]) + 0.5 * _noise(rng, t, K)
    else:
        picks = rng.choice(filters.shape[1], size=N_DRIVEN, replace=False)
        fbn = spontaneous + 0.5 * _noise(rng, t, K)
        fbn[:, :N_DRIVEN] = snr * np.column_stack([bold_timecourse(filters[:, j], TR) for j in picks]) + _noise(rng, t, N_DRIVEN)
        driven[:N_DRIVEN] = True
    return fbn, filters, driven


def load_movies(n_timepoints: int, keep: Path | None) -> list[dict[str, np.ndarray]]:
    """The movies' filter activations, rendered and extracted once (kept in ``keep`` when given)."""
    if keep is not None and keep.is_file():
        with np.load(keep) as data:
            return [{layer: data[f"{m}/{layer}"] for layer in LAYERS} for m in range(len(data.files) // len(LAYERS))]
    with tempfile.TemporaryDirectory() as tmp:
        movies = movie_filters(6, n_timepoints, Path(tmp))
    if keep is not None:
        np.savez(keep, **{f"{m}/{layer}": acts[layer] for m, acts in enumerate(movies) for layer in LAYERS})
    return movies


def run(n_datasets: int, n_timepoints: int, n_phase: int, snr: float, keep: Path | None = None) -> tuple[pd.DataFrame, dict]:
    tic = time.perf_counter()
    movies = load_movies(n_timepoints, keep)
    setup_s = time.perf_counter() - tic
    rows, family, means = [], [], []
    tic = time.perf_counter()
    for layer in LAYERS:
        for scenario in ("null_spontaneous", "null_shuffled", "power", "power_glover"):
            rng = np.random.default_rng(7)
            for d in range(n_datasets):
                fbn, filters, driven = simulate(scenario, rng, movies, layer, snr)
                hrf = "glover" if scenario == "power_glover" else "none"
                p = pair(fbn, filters, n_phase=n_phase, seed=d, hrf=hrf, tr=TR)
                calls = p.decisions(0.05)
                for role, chosen in (("null", ~driven), ("driven", driven)):
                    if chosen.any():
                        rows.append({"layer": layer, "scenario": scenario, "fbn": role, "n": int(chosen.sum()),
                                     **calls[chosen].sum().to_dict()})
                null_calls = calls.loc[~driven]
                family.append({"layer": layer, "scenario": scenario,  # FWER under the complete null, else realised FDR
                               **{f"any_{t}": bool(null_calls[t].any()) for t in ("fdr_shift", "fdr_phase", "shift")},
                               **{f"fdp_{t}": null_calls[t].sum() / max(1, calls[t].sum()) for t in ("fdr_shift", "fdr_phase")}})
                if not driven.any():
                    means.append({"layer": layer, "scenario": scenario, "mean_shift": p.mean_p_shift < 0.05,
                                  "mean_phase": p.params["mean_p_phase"] < 0.05,
                                  "mean_shift_eq1": p.params["mean_p_shift_eq1"] < 0.05})
    loop_s = time.perf_counter() - tic
    counts = pd.DataFrame(rows).groupby(["layer", "scenario", "fbn"], sort=False).sum()
    rates = counts.drop(columns="n").div(counts["n"], axis=0)
    rates["n_fbns"] = counts["n"]
    fam = pd.DataFrame(family).groupby(["layer", "scenario"], sort=False).mean()
    fam.loc[fam.index.get_level_values("scenario").str.startswith("power"), [c for c in fam if c.startswith("any_")]] = np.nan
    fam.loc[fam.index.get_level_values("scenario").str.startswith("null"), [c for c in fam if c.startswith("fdp_")]] = np.nan
    mean_tests = pd.DataFrame(means).groupby(["layer", "scenario"], sort=False).mean()
    table = rates.reset_index().merge(fam.reset_index(), on=["layer", "scenario"]).merge(
        mean_tests.reset_index(), on=["layer", "scenario"], how="left")
    table.loc[table["fbn"] == "driven", [c for c in table if c.startswith(("any_", "fdp_", "mean_"))]] = np.nan
    meta = {"setup_s": setup_s, "loop_s": loop_s, "peak_gb": peak_gb(), "n_datasets": n_datasets, "K": K,
            "n_timepoints": n_timepoints, "n_phase": n_phase, "snr": snr,
            "filters": {layer: int(movies[0][layer].shape[1]) for layer in LAYERS}}
    return table, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=300, help="simulated datasets per scenario and layer")
    parser.add_argument("--timepoints", type=int, default=200)
    parser.add_argument("--phase", type=int, default=199, help="phase surrogates per pairing")
    parser.add_argument("--snr", type=float, default=1.0, help="amplitude of a driven FBN's signal against unit noise")
    parser.add_argument("--keep-movies", type=Path, help="an .npz that keeps the movies' activations between runs")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    table, meta = run(args.datasets, args.timepoints, args.phase, args.snr, args.keep_movies)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print({k: v for k, v in meta.items() if k != "filters"}, meta["filters"])
    path = write_record(args.out, "calibration", {"meta": meta, "table": table.to_dict(orient="records")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
