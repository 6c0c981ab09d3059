"""One extraction for bench_peers.py, in the environment of the tool it measures (numpy, torch and the tool only).

Called as ``python _peer_child.py '<json>'`` with tool, mode, model, spec (from bench_peers.prepare), out, batch;
writes the spatial max of every layer to ``out`` (.npz, one (n_frames, n_filters) array per layer) and prints
one JSON line: frames/s, seconds, memory added and the peak.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import AnonPeak  # noqa: E402 - after the path is set


def build(model: str, weights: str) -> torch.nn.Module:
    """The architecture from its own package, with the weights bench_peers handed over."""
    if model == "resnet50":
        import torchvision

        net = torchvision.models.resnet50()
    else:
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
    state = np.load(weights)
    net.load_state_dict({k: torch.from_numpy(np.array(state[k])) for k in state.files})
    return net.eval()


class Batches:
    """Tensors of ``size`` inputs, as a DataLoader gives them (THINGSvision asks for ``len`` and iterates twice)."""

    def __init__(self, inputs: np.ndarray, size: int) -> None:
        self.inputs, self.size = inputs, size

    def __len__(self) -> int:
        return -(-len(self.inputs) // self.size)

    def __iter__(self):  # noqa: ANN204
        for start in range(0, len(self.inputs), self.size):
            yield torch.from_numpy(np.ascontiguousarray(self.inputs[start : start + self.size]))


def spatial_max(x: torch.Tensor | np.ndarray) -> np.ndarray:
    x = torch.as_tensor(x)
    return x.amax(dim=(2, 3)).float().numpy()


def run_syncact(args: dict, model: dict) -> dict[str, np.ndarray]:
    from syncact.ann import extract_activations, get_model

    built = get_model(args["model"], model["torch_weights"])
    frames = np.load(args["spec"]["frames"])
    extract_activations(frames[:16], built, list(model["modules"]))  # warm-up, as every tool gets
    args["before"]()
    return extract_activations(frames, built, list(model["modules"]), batch_size=args["batch"]).layers


def run_thingsvision(args: dict, model: dict) -> dict[str, np.ndarray]:
    from thingsvision import get_extractor_from_model

    net = build(args["model"], model["weights"])
    extractor = get_extractor_from_model(model=net, device="cpu", backend="pt")
    inputs = np.load(model["inputs"])
    modules = sorted(set(model["modules"].values()))
    with extractor.batch_extraction(module_names=modules, output_type="tensor") as warm:
        warm.extract_batch(torch.from_numpy(inputs[:16]), flatten_acts=False)  # warm-up
    args["before"]()
    if args["mode"] == "extract_batch":  # its mini-batch API, the max taken per batch: its most frugal use
        parts: dict[str, list[np.ndarray]] = {m: [] for m in modules}
        with extractor.batch_extraction(module_names=modules, output_type="tensor") as batched:
            for batch in Batches(inputs, args["batch"]):
                features = batched.extract_batch(batch, flatten_acts=False)
                for m in modules:
                    parts[m].append(spatial_max(features[m]))
        maxima = {m: np.concatenate(chunks) for m, chunks in parts.items()}
    else:  # extract_features, maps written to disk in steps as its docs advise for large extractions
        out_dir = Path(args["out"]).with_suffix("")
        out_dir.mkdir()
        # its default step (8000 // (3 x batch) + 1 = 84 batches) assumes 3 MB of maps per image; ResNet-50's five
        # layers make 6 MB, so all 2,000 frames' maps (12 GB, twice while concatenated) would be held at once
        extractor.extract_features(batches=Batches(inputs, args["batch"]), module_names=modules, flatten_acts=False,
                                   output_dir=str(out_dir), step_size=4)
        maxima = {}
        for m in modules:  # <output_dir>/<module>/features_<first>-<last>.npy
            files = sorted((out_dir / m).glob("features_*.npy"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
            maxima[m] = np.concatenate([spatial_max(np.load(f, mmap_mode="r")) for f in files])
        args["written_gb"] = sum(f.stat().st_size for f in out_dir.rglob("*.npy")) / 1e9
        for f in out_dir.rglob("*"):
            if f.is_file():
                f.unlink()
    return {layer: maxima[m] for layer, m in model["modules"].items()}


def run_torchlens(args: dict, model: dict) -> dict[str, np.ndarray]:
    import torchlens

    net = build(args["model"], model["weights"])
    inputs = np.load(model["inputs"])
    modules = sorted(set(model["modules"].values()))
    plan = {m: m for m in modules}
    torchlens.extract(net, torch.from_numpy(inputs[:2]), plan)  # warm-up
    args["before"]()
    parts: dict[str, list[np.ndarray]] = {m: [] for m in modules}
    with torch.no_grad():
        for batch in Batches(inputs, args["batch"]):
            features = torchlens.extract(net, batch, plan)
            for m in modules:
                parts[m].append(spatial_max(features[m]))
    return {layer: np.concatenate(parts[m]) for layer, m in model["modules"].items()}


def main() -> None:
    args = json.loads(sys.argv[1])
    model = args["spec"]["models"][args["model"]]
    peak = AnonPeak(0.05)
    start: dict[str, float] = {}

    def before() -> None:  # the extraction starts: what is resident now is not counted
        start["gb"], start["t"] = peak.now_gb(), time.perf_counter()
        peak.peak_kb = 0

    args["before"] = before
    runner = {"syncact": run_syncact, "thingsvision": run_thingsvision, "torchlens": run_torchlens}[args["tool"]]
    layers = runner(args, model)
    wall = time.perf_counter() - start["t"]
    top = peak.gb()
    np.savez(args["out"], **layers)
    n = len(next(iter(layers.values())))
    print(json.dumps({"fps": n / wall, "wall_s": wall, "added_gb": max(top - start["gb"], 0.0),
                      "peak_gb": top, "before_gb": start["gb"], "written_gb": args.get("written_gb", 0.0),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
