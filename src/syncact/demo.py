"""`syncact demo`: the embedded dataset through the whole pipeline.

The dataset's stimulus-driven networks are planted with EfficientNet-Lite2 filters; the demo analyses
EfficientNet-Lite0 (ImageNet weights) and ResNet-18 (random weights, a control that needs no download),
so finding the planted pairs is a test, not an identity.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from syncact import _io
from syncact.config import load_config
from syncact.pipeline import ExperimentResult, run_experiment
from syncact.simulate import make_dataset

logger = logging.getLogger(__name__)

DEMO_CONFIG = """\
name = "demo"
seed = {seed}

[data]
bids = "data"
task = "movie"
mask = "mni152"

{movies}
[frames]
size = [256, 180]
policy = "last"

[[models]]
name = "efficientnet_lite0"
weights = "imagenet"
layers = ["block3", "last_conv"]

[[models]]
name = "resnet18"
weights = "random"
layers = ["last_conv"]

[embedding]
n_networks = {n_networks}
temporal = "msa"
n_epochs = {n_epochs}

[pairing]
alpha = 0.05
# The planted BOLD lags the movie by the haemodynamic response; the paper pairs raw filter activations
# ("none"), with which no driven network stands out on this dataset (see docs/statistics.md).
hrf = "glover"

[annotation]
atlases = ["dosenbach_2010", "seitzman_2018"]
# The dataset writes each planted map under the term a meta-analysis would give it (planted truth).
term_maps = "data/derivatives/ground_truth/term_maps"
"""


def run_demo(out: Path, *, n_subjects: int = 10, n_timepoints: int = 200, seed: int = 0, quick: bool = False,
             progress: bool = True) -> ExperimentResult:
    """Generate (or reuse) the embedded dataset under ``out/data``, write ``out/experiment.toml`` and run it.

    Parameters
    ----------
    out : Path
        Run directory.
    n_subjects, n_timepoints, seed : int
        Size and seed of the simulated dataset.
    quick : bool, default=False
        Tiny sizes (5 subjects, 60 volumes, few epochs) for a smoke test.
    progress : bool, default=True

    Returns
    -------
    ExperimentResult
    """
    if quick:
        n_subjects, n_timepoints = 5, 60
    n_runs = 2
    data = out / "data"
    params = {"n_subjects": n_subjects, "n_runs": n_runs, "n_timepoints": n_timepoints, "seed": seed,
              "format": 2}  # 2: with term maps
    stamp = out / "data.params.json"
    if data.exists() and not (stamp.is_file() and json.loads(stamp.read_text()) == params):
        if stamp.is_file():  # a dataset this command generated with other parameters
            shutil.rmtree(data)
        else:
            raise FileExistsError(f"{str(data)!r} exists and was not written by `syncact demo`; choose another --out.")
    if not data.exists():
        make_dataset(data, n_subjects=n_subjects, n_runs=n_runs, n_timepoints=n_timepoints, seed=seed, progress=progress)
        _io.write_json(stamp, params)
    movies = "".join(f'[[movies]]\nrun = "{r}"\npath = "data/stimuli/task-movie_run-{r}.mp4"\noffset = 0.0\n\n'
                     for r in range(1, n_runs + 1))
    text = DEMO_CONFIG.format(seed=seed, movies=movies, n_networks=8 if quick else 16, n_epochs=20 if quick else 100)
    _io.write_text(out / "experiment.toml", text)
    return run_experiment(load_config(out / "experiment.toml"), out, progress=progress)
