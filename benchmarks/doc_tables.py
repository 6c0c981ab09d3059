"""The tables that README.md and docs/ quote from benchmark records, rendered from the records themselves.

A quoted table sits between two markers in the Markdown file::

    <!-- table: recovery benchmarks/results/recovery-20261202-014156.json -->
    | method | ... |
    <!-- /table -->

``tests/test_docs.py`` renders every marked table from its record and fails when the text differs, so a
figure in the docs cannot drift from the run that measured it. After re-running a benchmark, point the
marker at the new record and rewrite the tables in place:

    .venv/bin/python benchmarks/doc_tables.py README.md docs/*.md
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"<!-- table: (?P<kind>[\w-]+) (?P<record>\S+) -->\n(?P<body>.*?)<!-- /table -->", re.DOTALL)

_METHODS = {"lt": "LT", "lt+lstm": "LT+LSTM", "lt+msa": "LT+MSA", "canica": "CanICA", "dictlearning": "DictLearning",
            "pca": "PCA", "srm": "SRM"}
_EMBEDDINGS = ("lt", "lt+lstm", "lt+msa")


def _f(value: float, digits: int) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _rows(table: list[dict], *keys: str) -> dict[tuple, dict]:
    return {tuple(row[k] for k in keys): row for row in table}


def recovery(record: dict) -> str:
    """The recovery table of docs/embedding.md (``benchmarks/bench_recovery.py``)."""
    key = ("identify", "method", "n_networks")
    kinds = _rows(record["recovery"], *key, "kind")
    pairing, stability, ablation = (_rows(record[name], *key) for name in ("pairing", "stability", "ablation"))
    lines = ["| method | identify | K | spatial r, driven | spatial r, spontaneous | span r, driven / spontaneous | "
             "temporal r, driven | mean PCC | significant | seeds: matched r ≥ 0.9 (top-7 r) | MAE | RMSE | DTW |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = [k for k in pairing if k[0] != "none"] + [k for k in pairing if k[0] == "none"]
    for identify, method, k in order:
        driven, spont = kinds[(identify, method, k, "stimulus")], kinds[(identify, method, k, "spontaneous")]
        label = ("ica" if identify == "ica" else "none (paper)") if method in _EMBEDDINGS else "–"
        p, s, a = pairing[(identify, method, k)], stability[(identify, method, k)], ablation[(identify, method, k)]
        lines.append(
            f"| {_METHODS[method]} | {label} | {k} "
            f"| {_f(driven['spatial_r'], 2)} [{_f(driven['spatial_min'], 2)}, {_f(driven['spatial_max'], 2)}] "
            f"| {_f(spont['spatial_r'], 2)} | {_f(driven['span_r'], 2)} / {_f(spont['span_r'], 2)} "
            f"| {_f(driven['temporal_r'], 2)} [{_f(driven['temporal_min'], 2)}, {_f(driven['temporal_max'], 2)}] "
            f"| {_f(p['mean_pcc'], 3)} | {_f(p['share_significant'], 2)} "
            f"| {_f(s['n_above_0.9'], 1)} ({_f(s['top7_mean_r'], 2)}) "
            f"| {_f(a['mae'], 3)} | {_f(a['rmse'], 3)} | {_f(a['dtw'], 2)} |")
    return "\n".join(lines) + "\n"


def calibration_grid(record: dict) -> str:
    """Per-pair false-positive rate of the shift test per run length, K and layer (docs/statistics.md)."""
    table = record["table"]
    columns = list(dict.fromkeys((row["K"], row["layer"]) for row in table))
    cells = _rows(table, "n_timepoints", "K", "layer")
    se = "shift_se_movies" if "shift_se_movies" in table[0] else "shift_se"
    lines = ["| T (TRs) | " + " | ".join(f"K = {k}, {layer}" for k, layer in columns) + " |",
             "| --- |" + " --- |" * len(columns)]
    for t in dict.fromkeys(row["n_timepoints"] for row in table):
        lines.append(f"| {t} | " + " | ".join(f"{_f(cells[(t, k, layer)]['shift_rate'], 3)} "
                                              f"({_f(cells[(t, k, layer)][se], 3)})" for k, layer in columns) + " |")
    return "\n".join(lines) + "\n"


def report(record: dict) -> str:
    """Report build time (cards + page) and size against the baseline the record names (issue 19's bars)."""
    base = record["baseline"]
    rows = [("| | before (" + base["record"] + ") | now | ratio | bar |"), "|---|---|---|---|---|",
            f"| cards + page (s) | {base['report_s']:.1f} | {record['report_s']:.1f} | "
            f"{record['report_s'] / base['report_s']:.2f} | <= 1.2 |",
            f"| size (MB) | {base['report_mb']:.1f} | {record['report_mb']:.1f} | "
            f"{record['report_mb'] / base['report_mb']:.2f} | <= 1.5 |"]
    return "\n".join(rows) + "\n"


def _demo_encoding(record: dict) -> dict:
    """The encoding figures of a demo record (bench_demo.py), or an encoding-demo record itself."""
    return record["ica"]["encoding"] if "ica" in record else record


def _share(value: float | None) -> str:
    return "-" if value is None or value != value else f"{100 * value:.0f} %"


def encoding_demo(record: dict) -> str:
    """Per model and planted network: voxels predicted (own shift null), and the share the planted layer wins."""
    enc = _demo_encoding(record)
    rows = ["| model | planted network | driver | voxels | predicted | won by the planted layer |",
            "|---|---|---|---|---|---|"]
    for r in enc["truth"]:
        rows.append(f"| {r['model']} ({r['weights']}) | {r['network']} | {r['driver'] or '-'} | {r['n_voxels']} | "
                    f"{_share(r['share_significant'])} | {_share(r['share_won_planted'])} |")
    for t in enc["table"]:  # one row per model (its bands share these figures; duplicates dropped below)
        rows.append(f"| {t['model']} ({t['weights']}) | all voxels | - | {t['n_voxels']} | "
                    f"{_share(t['share_significant'])} (other movie: {_share(t['false_positive_rate'])}) | - |")
    return "\n".join(dict.fromkeys(rows)) + "\n"


def encoding_networks(record: dict) -> str:
    """Per model and Dosenbach network: voxels, predicted share, median r, ceiling, ceiled r, best band."""
    rows = ["| model | network | voxels | predicted | median r | median ceiling | median r / ceiling | best band |",
            "|---|---|---|---|---|---|---|---|"]
    for r in _demo_encoding(record)["networks"]:
        rows.append(f"| {r['model']} ({r['weights']}) | {r['network']} | {r['n_voxels']} | {_share(r['share_significant'])} | "
                    f"{r['median_r']:.3f} | {r['median_ceiling']:.3f} | {r['median_ceiled_r']:.2f} | "
                    f"{r['best_band'] or '-'} |")
    return "\n".join(rows) + "\n"


def encoding_speed(record: dict) -> str:
    """The side-by-side comparison: seconds and peak memory of each fit, with the ratios."""
    c = record["compare"]
    rows = [f"| fit ({c['voxels']} voxels, {c['timepoints']} TRs x {record['runs']} runs, Lite0 widths x "
            f"{len(record['delays'])} delays) | seconds | peak GB | ratio |", "|---|---|---|---|"]
    for key, label, ratio in (("syncact_numpy", "syncact fit_encoding, numpy backend", "1.00"),
                              ("himalaya_numpy", "himalaya MultipleKernelRidgeCV alone, numpy",
                               f"syncact / this: {c['overhead']:.2f}x"),
                              ("sklearn", "scikit-learn RidgeCV per band (no banded search)",
                               f"this / syncact: {c['sklearn_ratio']:.2f}x"),
                              ("syncact_torch", "syncact fit_encoding, torch backend (CPU)",
                               f"this / numpy: {c['torch_ratio']:.2f}x")):
        rows.append(f"| {label} | {c[key]['seconds']:.1f} | {c[key]['peak_gb']:.2f} | {ratio} |")
    return "\n".join(rows) + "\n"


def encoding_solvers(record: dict) -> str:
    """Primal and dual banded ridge across widths: which form is cheaper."""
    rows = ["| features | training samples | primal (s) | dual (s) | cheaper |", "|---|---|---|---|---|"]
    for r in record["solvers"]["rows"]:
        rows.append(f"| {r['n_features']} | {r['n_train']} | {r['primal_s']:.1f} | {r['dual_s']:.1f} | "
                    f"{'primal' if r['primal_s'] < r['dual_s'] else 'dual'} |")
    return "\n".join(rows) + "\n"


def encoding_whole_brain(record: dict) -> str:
    """The whole-brain fit at the issue's shape: seconds, peak memory at two voxel counts (resident, and anonymous when
    sampled), planted bands found, and himalaya alone on the same arrays when the record has it."""
    w = record["whole_brain"]
    rows = ["| fit | voxels | TRs x runs | features | backend | seconds | peak GB (resident / own arrays) | "
            "planted band wins |", "|---|---|---|---|---|---|---|---|"]
    fits = [("syncact fit_encoding", w["fewer"], "-"), ("syncact fit_encoding", w["all"], _share(w["planted_band_wins"]))]
    if "himalaya" in w:
        fits.append(("himalaya MultipleKernelRidgeCV alone", {**w["himalaya"], "backend": "numpy"}, "-"))
    for label, fit, wins in fits:
        voxels = fit.get("voxels", w["voxels"])
        backend = fit.get("backend", "torch")  # records before the backend was recorded ran "auto" = torch
        anon = f" / {fit['peak_anon_gb']:.2f}" if "peak_anon_gb" in fit else ""
        rows.append(f"| {label} | {voxels} | {w['timepoints']} x {record['runs']} | {w['n_features']} | {backend} | "
                    f"{fit['seconds']:.0f} | {fit['peak_gb']:.2f}{anon} | {wins} |")
    return "\n".join(rows) + "\n"


def encoding_rerun(record: dict) -> str:
    """A whole-brain syncact fit re-measured on a quiet machine (bench_encoding_rerun.py), against himalaya alone."""
    f = record["syncact"]
    return ("| fit | voxels | seconds | peak GB (resident / own arrays) | planted band wins | syncact / himalaya alone |\n"
            "|---|---|---|---|---|---|\n"
            f"| syncact fit_encoding, {f['backend']}, quiet rerun | {record['voxels']} | {f['seconds']:.0f} | "
            f"{f['peak_gb']:.2f} / {f['peak_anon_gb']:.2f} | {_share(record['syncact']['planted_band_wins'])} | "
            f"{record['overhead']:.2f}x |\n")


def surface_accuracy(record: dict) -> str:
    """Graph discs against exact geodesic discs on the fsLR sphere (bench_surface_searchlight.py)."""
    rows = ["| radius | graph | share of the exact disc held (median / min) | farthest member |", "|---|---|---|---|"]
    for r in record["accuracy"]["rows"]:
        graph = "edges + diagonals (syncact)" if r["graph"] == "edges_and_diagonals" else "edges only"
        rows.append(f"| {r['radius_mm']:g} mm | {graph} | {_share(r['coverage_median'])} / {_share(r['coverage_min'])} | "
                    f"{r['max_member_distance_mm']:.2f} mm |")
    return "\n".join(rows) + "\n"


def surface_searchlight(record: dict) -> str:
    """Disc building per radius and searchlight RSA on all discs (bench_surface_searchlight.py)."""
    rows = ["| step | radius | discs | vertices per disc (5th / median / 95th pct) | seconds | peak GB |",
            "|---|---|---|---|---|---|"]
    for d in record["discs"]:
        rows.append(f"| discs of {d['n_grayordinates']:,} cortical grayordinates | {d['radius_mm']:g} mm | {d['n_discs']:,} | "
                    f"{d['size_p5']:.0f} / {d['size_median']:.0f} / {d['size_p95']:.0f} | {d['seconds']:.1f} | "
                    f"{d['peak_gb']:.2f} |")
    for r in record["rsa"]:
        what = f"RSA, {r['n_images']} images x 4 layers" + (f", {r['n_perm']:,} permutations" if r["n_perm"] else "")
        rows.append(f"| {what} | {r['radius_mm']:g} mm | {r['n_discs']:,} | - | {r['seconds']:.1f} | {r['peak_gb']:.2f} |")
    return "\n".join(rows) + "\n"


def demo_surface(record: dict) -> str:
    """Per planted network of the grayordinate demo: where it was planted, its recovery and how its best FBN is
    described (bench_demo.py --space fsLR32k), identified FBNs beside the paper's raw weights."""
    from syncact.simulate.bold import SURFACE_NETWORKS

    ica, raw = record["ica"], record.get("none")
    rows = ["| planted network | built from | spatial r (raw weights) | span r | PCA ceiling | temporal r | "
            "first parcel of its FBN |", "|---|---|---|---|---|---|---|"]
    for net in SURFACE_NETWORKS:
        name = net.name
        temporal = _f(ica["temporal_r"][name], 2) if name in ica["temporal_r"] else "spontaneous"
        before = f" ({_f(raw['spatial_r'][name], 2)})" if raw else ""
        rows.append(f"| {name} | {', '.join(net.parcels)} | {_f(ica['spatial_r'][name], 2)}{before} | "
                    f"{_f(ica['span_r'][name], 2)} | {_f(ica['pca_span_r'][name], 2)} | {temporal} | "
                    f"{ica['parcel_top'][name]} |")
    rows.append(f"| **all 7** | | median {_f(ica['median_spatial_r'], 3)}, min {_f(ica['min_spatial_r'], 2)} | | | "
                f"min {_f(ica['min_temporal_r'], 2)} | {ica['parcel_hits']} of 7 its own parcel |")
    return "\n".join(rows) + "\n"


def report_surface(record: dict) -> str:
    """The run report on grayordinates beside volumes, one process (bench_report_surface.py)."""
    vol, surf = record["spaces"]["MNI152"], record["spaces"]["fsLR32k"]
    rows = ["| | volume (MNI152 4 mm) | grayordinates (fsLR 32k cortex) | ratio | bar |", "|---|---|---|---|---|",
            f"| features | {vol['n_features']:,} voxels | {surf['n_features']:,} grayordinates | | |",
            f"| cards + page (s), 256 cards | {vol['report_s']:.1f} | {surf['report_s']:.1f} | "
            f"{surf['report_s'] / vol['report_s']:.2f} | <= 1.5 |",
            f"| one FBN map drawn (s) | {vol['map_s']:.3f} | {surf['map_s']:.3f} | {surf['map_s'] / vol['map_s']:.2f} | |",
            f"| page (MB) | {vol['report_mb']:.1f} | {surf['report_mb']:.1f} | {surf['report_mb'] / vol['report_mb']:.2f} | |"]
    return "\n".join(rows) + "\n"


def subspace(record: dict) -> str:
    """The randomized principal subspace against the exact one, the crossover in rows, and its plan units on 1 and 2
    workers (bench_subspace.py)."""
    angles, rec, captured = record["angles_deg"], record["recovery"], record["captured"]
    rows = ["| measure | value |", "|---|---|",
            f"| training runs x rows, voxels, r | {record['train_runs']} runs, {record['train_rows']:,} rows, "
            f"{record['n_voxels']:,} voxels, r = {record['r']} |",
            "| largest principal angle to the exact subspace, top 4 / 7 / 16 / 256 directions | "
            f"{angles['4']:.2f}° / {angles['7']:.2f}° / {angles['16']:.0f}° / {angles['256']:.0f}° |",
            "| variance captured, randomized / exact, top 7 / 16 / 256 directions | "
            f"{captured['7']:.5f} / {captured['16']:.5f} / {captured['256']:.5f} |",
            f"| demo embedding's recovery (spatial r), exact basis | {min(rec['exact'].values()):.3f} to "
            f"{max(rec['exact'].values()):.3f} |",
            f"| the same in the randomized basis | {min(rec['randomized'].values()):.3f} to "
            f"{max(rec['randomized'].values()):.3f} (largest change {record['recovery_max_diff']:.4f}; bar 0.01) |"]
    for row in record["rows_vs_seconds"]:
        rows.append(f"| {row['rows']:,} rows: exact / randomized, one process | {row['exact']:.1f} s / "
                    f"{row['randomized']:.1f} s |")
    units = record["units_seconds"]
    rows.append(f"| randomized as plan units, {record['all_runs']} runs: 1 / 2 workers | {units['1']:.1f} s / "
                f"{units['2']:.1f} s = {record['speedup']:.2f}x (bar 1.6x) |")
    if "ceiling" in record:  # from 2026-12-03: medians of alternate rounds, where the time went, the machine's ceiling
        runs, spans, ceiling = record["units_runs"], record["units_spans"], record["ceiling"]
        for w in ("1", "2"):
            share = statistics.median(s["shares"] for s in spans[w])
            reduce = statistics.median(s["reduces"] for s in spans[w])
            rows.append(f"| {w} worker{'s' if w == '2' else ''}: runs, unit seconds (shares + reduces) | "
                        f"{' / '.join(f'{x:.1f}' for x in runs[w])} s; {share:.1f} + {reduce:.1f} s |")
        rows.append(f"| this machine's ceiling: one share's product alone / two at once in two processes | "
                    f"{ceiling['alone_s']:.2f} s / {ceiling['together_s']:.2f} s = {ceiling['speedup']:.2f}x; "
                    f"the units reach {record['speedup'] / ceiling['speedup']:.0%} of it |")
    return "\n".join(rows) + "\n"


def pairing(record: dict) -> str:
    """The pairing's shift null against its roofline, the algorithm before and the dense floor (bench_pairing.py)."""
    a, rates, roof = record["args"], record["rates"], record["roofline"]
    rows = ["| measure | value |", "|---|---|",
            f"| size | K = {a['k']} FBNs x F = {a['f']:,} filters x T = {a['t']}, {record['n_lags']} shift nulls |",
            f"| `pair` (median of 5 calls; every test, both directions) | {record['pair_s']:.2f} s, peak "
            f"{record['pair_peak_gb']:.2f} GB |",
            f"| measured here: inverse real FFTs of length {a['t']} | {rates['irfft_per_s']:,.0f} per s |",
            f"| measured here: memory bandwidth (copy) | {rates['bandwidth_gb_s']:.1f} GB/s |",
            f"| roofline, FFT term: {a['k'] * a['f']:,} inverse transforms | {roof['fft_s']:.3f} s |",
            f"| roofline, bytes term: {roof['bytes'] / 1e6:.1f} MB in and out | {roof['bytes_s'] * 1e3:.2f} ms |",
            f"| `pair` / roofline | {record['pair_over_roofline']:.2f}x (bar 3x) |",
            f"| the cube made in 256 MB blocks, then reduced (before) | {record['cube_null_s']:.2f} s "
            f"({roof['cube_bytes'] / 1e9:.1f} GB through memory) |",
            f"| dense products, one per shift | {record['dense_floor_s']:.1f} s |",
            f"| phase null, per 1,000 surrogates | {record['phase_1000_s']:.1f} s |",
            f"| K x F correlations: `pearson_matrix` / a `scipy.stats.pearsonr` loop | {record['pearson_matrix_s']:.3f} s / "
            f"{record['pearsonr_loop_s']:.0f} s |"]
    return "\n".join(rows) + "\n"


def study_run(record: dict) -> str:
    """The study run for real on 1 and 2 workers, and its projection to the paper's study (bench_study_run.py)."""
    stages = ["prepare", "frames", "extract", "subspace", "embed", "transform", "pair"]
    rows = [f"{record['size']}, {record['args']['epochs']} epochs; prepared store {record['store_gb']:.1f} GB.", "",
            "| workers | wall time (s) | driver waited for the store (s) | " + " | ".join(
                f"{s} units: n, s" for s in stages) + " |", "|---|---|---|" + "---|" * len(stages)]
    for w, run in record["runs"].items():
        cells = [f"{run['units'][s]['n']}, {run['units'][s]['total_s']:.1f}" if s in run["units"] else "-" for s in stages]
        rows.append(f"| {w} | {run['wall_s']:.0f} | {run['timings']['prepare']:.0f} | " + " | ".join(cells) + " |")
    rows.append(f"| speed-up | {record['speedup']:.2f}x | | " + " | " * (len(stages) - 1) + " |")
    p, st = record["projection"], record["study"]
    c, work = p["unit_costs_s"], p["study_work_s"]
    rows += ["", f"| the paper's study: {st['subjects']} subjects x {st['runs']} runs x {st['timepoints']} TRs | "
             "unit cost measured here | units of the study | unit-hours |", "|---|---|---|---|",
             f"| preparation | {c['prepare']:.2f} s per run | {st['subjects'] * st['runs']} runs | {work['prepare'] / 3600:.2f} |",
             f"| extraction | {c['extract']:.1f} s per model x run | {st['models'] * st['weights'] * st['runs']} | "
             f"{work['extract'] / 3600:.2f} |",
             f"| principal subspace (randomized) | {c['subspace_per_row'] * 1e3:.2f} ms per training row | "
             f"{round(st['subjects'] * st['split'][0]) * st['runs'] * st['timepoints']:,} rows | {work['subspace'] / 3600:.2f} |",
             f"| fit (one unit) | {c['fit_per_row_epoch'] * 1e3:.3f} ms per row and epoch"
             + (f" + {c['fit_rest_per_row'] * 1e3:.2f} ms per row (reading, identification)" if "fit_rest_per_row" in c
                else "") + f" | {st['epochs']} epochs | {work['fit'] / 3600:.2f} |",
             f"| test transforms | {c['transform_per_test_run']:.2f} s per subject x run | "
             f"{round(st['subjects'] * st['split'][2]) * st['runs']} | {work['transform'] / 3600:.2f} |",
             f"| pairing | {c['pair']:.2f} s per model x layer x run | "
             f"{st['models'] * st['layers'] * st['weights'] * st['runs']:,} (one K) | {work['pair'] / 3600:.2f} |",
             f"| total | | | {p['study_work_hours']:.2f} |", "",
             "| workers | projected hours: max(work / workers, longest path) | longest path (the fit in it) |", "|---|---|---|"]
    for w, row in p["on"].items():
        rows.append(f"| {w} | {row['hours']:.2f} | {row['longest_path_hours']:.2f} ({work['fit'] / 3600:.2f}) |")
    return "\n".join(rows) + "\n"


def _walls(runs: list[dict]) -> str:
    return ", ".join(f"{r['wall_s']:.1f}" for r in runs)


def graph(record: dict) -> str:
    """One experiment graph against the stage-by-stage plan on the demo, both on the same workers (bench_graph.py)."""
    before, after, med, n = record["before"], record["after"], record["median_s"], record["workers"]
    same = record["tables_identical"]
    rows = ["| run of the demo (`syncact run --workers " f"{n}`, fresh run directory and activation cache) | wall time (s) |",
            "|---|---|",
            f"| stage by stage ({record['before_revision']}: a plan and a cluster per stage, encoding in the driver) | "
            f"{med['before']:.1f} (runs: {_walls(before)}) |",
            f"| one graph (this version) | {med['after']:.1f} (runs: {_walls(after)}) |",
            f"| one graph / stage by stage | {record['ratio']:.2f} (bar 0.75) |",
            f"| one graph, in process (for reference) | {record['in_process_after']['wall_s']:.1f} |",
            f"| tables byte-identical between the two versions | {sum(same.values())} of {len(same)} |"]
    for label, key in (("default threads", "in_process_vs_workers_max_abs_diff"),
                       ("`OMP_NUM_THREADS=1`, as on a worker", "in_process_one_thread_vs_workers_max_abs_diff")):
        worst = [record[key].get(table, {}).get(column, 0.0)
                 for table, column in (("recovery", "spatial_r"), ("summary", "mean_pcc"), ("encoding", "mean_r"))]
        rows.append(f"| in process with {label} vs {n} workers, largest difference: recovery `spatial_r` / summary "
                    f"`mean_pcc` / encoding `mean_r` | " + " / ".join(f"{w:.1e}" for w in worst) + " |")
    b, a = before[0]["timings"], after[0]["timings"]
    stages = [("frames", "frames"), ("load_bold", "prepare"), ("activations", "extract"), ("embedding", "embed"),
              ("pairing", "pair"), ("encoding", "encoding")]
    rows += ["", f"| stage | stage by stage: driver waited (s) | one graph: its units ran (s, summed over {n} workers) |",
             "|---|---|---|"]
    for old, new in stages:
        extra = " (+ subspace " f"{a.get('units:subspace', 0):.1f}, transforms {a.get('units:transform', 0):.1f})" \
            if new == "embed" else ""
        rows.append(f"| {new} | {b.get(old, 0):.1f} | {a.get('units:' + new, 0):.1f}{extra} |")
    rows.append(f"| until the last unit | {sum(b.get(o, 0) for o, _ in stages):.1f} | {a['units']:.1f} (wall) |")
    return "\n".join(rows) + "\n"


_MODEL_NAMES = {"resnet50": "ResNet-50", "resnet18": "ResNet-18", "efficientnet_lite0": "EfficientNet-Lite0"}


def extract(record: dict) -> str:
    """Extraction against each model's roofline, by batch size, and against the usual keep-the-maps loop
    (bench_extract.py)."""
    rates = record["gemm_rates"]
    rows = [f"Rates measured in the run: dense float32 product {record['gemm_gflops']:.0f} GFLOP/s (oneDNN 1 x 1 "
            f"convolution {rates['conv1x1']:.0f}, torch.mm {rates['mm']:.0f}), memory bandwidth "
            f"{record['bandwidth_gb_s']:.1f} GB/s.", "",
            "| model | GFLOP/frame | MB/frame (conv/linear in + out + weights) | memory-bound layers | roofline (frames/s) "
            "| frames/s | share of the roofline |", "|---|---|---|---|---|---|---|"]
    for model, row in record["efficiency"].items():
        roof = row["roofline"]
        rows.append(f"| {_MODEL_NAMES[model]} | {roof['gflop_per_frame']:.2f} | {roof['mb_per_frame']:.1f} | "
                    f"{roof['memory_bound_layers']} of {roof['layers']} | {roof['fps']:.0f} | {row['fps']:.1f} | "
                    f"{100 * row['share_of_roofline']:.0f} % |")
    sweep = record.get("batch_sweep")
    if sweep:
        batches = list(next(iter(sweep["best"].values())))
        rows += ["", "| frames/s by batch (best of 3 interleaved) | " + " | ".join(batches) + " |",
                 "|---|" + "---|" * len(batches)]
        for model, row in sweep["best"].items():
            rows.append(f"| {_MODEL_NAMES[model]} | " + " | ".join(f"{v:.1f}" for v in row.values()) + " |")
    usual = record.get("versus_usual")
    if usual:
        ours, base = usual["ours"], usual["usual"]
        rows += ["", "| ResNet-18, 2,000 frames | frames/s | peak memory | memory added by extraction |", "|---|---|---|---|",
                 f"| syncact | {ours['fps']:.1f} | {ours['peak_gb']:.2f} GB | {ours['added_gb']:.2f} GB |",
                 f"| usual loop (maps kept, max afterwards) | {base['fps']:.1f} | {base['peak_gb']:.2f} GB | "
                 f"{base['added_gb']:.2f} GB ({base['kept_maps_gb']:.2f} GB of maps) |",
                 f"| ratio | {usual['speedup']:.2f}x | {usual['peak_ratio']:.1f}x | {usual['added_ratio']:.1f}x |"]
    overlap = record.get("decode_overlap")
    if overlap:
        rows += ["", f"Decoding overlapped with inference (600 frames from PyAV): {overlap['speedup']:.2f}x decoding first."]
    return "\n".join(rows) + "\n"


def peers(record: dict) -> str:
    """syncact's extraction beside THINGSvision and torchlens themselves, each in its own environment
    (bench_peers.py)."""
    v = record["versions"]
    rows = [f"{record['frames']:,} frames, block1-4 + last_conv, the spatial max of every map; peers in batches of "
            f"{record['peer_batch']}. Versions: " + "; ".join(
                f"{tool} {pins.get(tool, '')} (torch {pins['torch']}, numpy {pins['numpy']})".replace(" ()", "")
                for tool, pins in v.items()) + ".", "",
            "| model | tool, call | frames/s | syncact's frames/s over it | memory added | over syncact's | "
            "largest difference (relative) |", "|---|---|---|---|---|---|---|"]
    for model, runs in record["results"].items():
        for key, row in runs.items():
            diff = row.get("relative_difference")
            written = f", {row['written_gb']:.1f} GB written" if row.get("written_gb") else ""
            rows.append(f"| {_MODEL_NAMES[model]} | {key} | {row['fps']:.1f} | {row['ours_fps_ratio']:.2f}x | "
                        f"{row['added_gb']:.2f} GB{written} | {row['memory_ratio']:.1f}x | "
                        f"{'' if diff is None else f'{max(diff.values()):.1e}'} |")
    return "\n".join(rows) + "\n"


RENDERERS: dict[str, Callable[[dict], str]] = {"graph": graph, "study-run": study_run, "extract": extract, "peers": peers, "pairing": pairing, "subspace": subspace, "demo-surface": demo_surface, "report-surface": report_surface,"recovery": recovery, "calibration-grid": calibration_grid,
                                               "report": report, "encoding-demo": encoding_demo,
                                               "encoding-networks": encoding_networks, "encoding-speed": encoding_speed,
                                               "encoding-solvers": encoding_solvers,
                                               "encoding-whole-brain": encoding_whole_brain,
                                               "encoding-rerun": encoding_rerun,
                                               "surface-accuracy": surface_accuracy,
                                               "surface-searchlight": surface_searchlight}


def quoted_tables(text: str) -> list[tuple[str, str, str, str]]:
    """Every marked table of a Markdown text: (kind, record path, text in the file, text rendered from the record)."""
    found = []
    for match in MARKER.finditer(text):
        record = json.loads((ROOT / match["record"]).read_text())
        found.append((match["kind"], match["record"], match["body"], RENDERERS[match["kind"]](record)))
    return found


def rewrite(path: Path) -> bool:
    """Re-render the marked tables of ``path`` in place; whether anything changed."""
    text = path.read_text()
    def render(m: re.Match) -> str:  # the marker lines kept, the body between them replaced (an empty one too)
        body = RENDERERS[m["kind"]](json.loads((ROOT / m["record"]).read_text()))
        return m[0][:m.start("body") - m.start()] + body + m[0][m.end("body") - m.start():]

    new = MARKER.sub(render, text)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="+", type=Path, help="Markdown files whose marked tables are rendered again")
    for page in parser.parse_args().pages:
        print(f"{page}: {'rewritten' if rewrite(page) else 'unchanged'}")
