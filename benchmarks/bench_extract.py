"""Activation-extraction benchmark: frames/s against the hardware limit, and against the usual way.

Run:  .venv/bin/python benchmarks/bench_extract.py [--frames 2000] [--out benchmarks/results]

Three measurements, each variant in its own process (so peak memory is its own), all in one run so the
ratios compare like with like on a noisy shared machine:

1. Efficiency: frames/s of ``extract_activations`` for ResNet-50, ResNet-18 and EfficientNet-Lite0
   (four blocks and the last conv in one pass), times the model's FLOPs per frame (torch's flop
   counter), over the dense matrix-product rate measured in the same run (float32 2048x2048 GEMM).
2. Against a THINGSvision/Net2Brain-style loop on a movie of real photos: PIL transforms per frame,
   hooks that keep whole feature maps on the host, reduction afterwards. Frames/s and peak memory.
3. Decoding overlapped with inference (frames streamed from PyAV into ``extract_activations``) against
   decoding the whole movie first.

Weights are random: speed does not depend on their values. A GPU, when present, is measured and reported.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _harness import peak_gb, run_child, serve_child, write_record

LAYERS = ["block1", "block2", "block3", "block4", "last_conv"]




def _rss_gb() -> float:
    """Current resident memory (Linux), to subtract what was there before the extraction started."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def gemm_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Dense float32 matrix-product rate of this machine (best of three timings)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9)
    return best


def model_gflops(name: str) -> float:
    """FLOPs of one frame through the whole network (convolutions and matrix products), in GFLOP."""
    from torch.utils.flop_counter import FlopCounterMode

    from syncact.ann import get_model

    built = get_model(name, "random")
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        built.module(torch.zeros(1, 3, built.input_size, built.input_size))
    return counter.get_total_flops() / 1e9


def movie_frames(path: Path, n_frames: int) -> np.ndarray:
    """Decode the first ``n_frames`` frames of a movie to (n, h, w, 3) uint8."""
    import av

    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == n_frames:
                break
    return np.stack(out)


def iter_movie(path: Path, n_frames: int):  # noqa: ANN201
    import av

    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == n_frames:
                return
            yield frame.to_ndarray(format="rgb24")


# ----------------------------------------------------------------------------------------------
# children: one measurement each, printing one JSON line
# ----------------------------------------------------------------------------------------------
def child_ours(model: str, n_frames: int, frames_path: str | None, batch_size: int, device: str = "cpu") -> dict:
    from syncact.ann import extract_activations, get_model

    built = get_model(model, "random")
    if frames_path:
        frames = np.load(frames_path)
    else:
        frames = (np.random.default_rng(0).random((n_frames, 180, 256, 3)) * 255).astype(np.uint8)
    extract_activations(frames[:batch_size], built, LAYERS, batch_size=batch_size, device=device)  # warm-up
    before = _rss_gb()
    t = time.perf_counter()
    acts = extract_activations(frames, built, LAYERS, batch_size=batch_size, device=device)
    wall = time.perf_counter() - t
    return {"fps": len(frames) / wall, "wall_s": wall, "peak_gb": peak_gb(), "added_gb": peak_gb() - before,
            "n_filters": {k: v.shape[1] for k, v in acts.layers.items()}}


def child_baseline(model: str, frames_path: str, batch_size: int) -> dict:
    """The usual way (THINGSvision/Net2Brain style): PIL transforms, whole maps kept, reduced at the end."""
    from PIL import Image
    from torchvision import transforms

    from syncact.ann import get_model

    built = get_model(model, "random")
    net = built.module.eval()
    frames = np.load(frames_path)
    transform = transforms.Compose([transforms.Resize(built.input_size), transforms.CenterCrop(built.input_size),
                                    transforms.ToTensor(), transforms.Normalize(built.preprocessing.mean, built.preprocessing.std)])
    modules = {name: built.layers[name].module for name in LAYERS}
    store: dict[str, list[np.ndarray]] = {m: [] for m in set(modules.values())}
    current: dict[str, torch.Tensor] = {}
    handles = [net.get_submodule(m).register_forward_hook(lambda _m, _i, o, m=m: current.__setitem__(m, o)) for m in store]

    def run(images: np.ndarray) -> None:
        for start in range(0, len(images), batch_size):
            batch = torch.stack([transform(Image.fromarray(img)) for img in images[start : start + batch_size]])
            with torch.no_grad():
                net(batch)
            for m in store:
                store[m].append(current[m].detach().cpu().numpy().copy())

    run(frames[:batch_size])
    for m in store:
        store[m].clear()
    before = _rss_gb()
    t = time.perf_counter()
    run(frames)
    maps = {m: np.concatenate(chunks) for m, chunks in store.items()}
    reduced = {name: maps[m].max(axis=(2, 3)) for name, m in modules.items()}
    wall = time.perf_counter() - t
    for h in handles:
        h.remove()
    return {"fps": len(frames) / wall, "wall_s": wall, "peak_gb": peak_gb(), "added_gb": peak_gb() - before,
            "n_filters": {k: v.shape[1] for k, v in reduced.items()},
            "kept_maps_gb": sum(a.nbytes for a in maps.values()) / 1e9}


def child_stream(model: str, movie: str, n_frames: int, batch_size: int, overlap: bool) -> dict:
    from syncact.ann import extract_activations, get_model

    built = get_model(model, "random")
    warm = movie_frames(Path(movie), batch_size)
    extract_activations(warm, built, LAYERS, batch_size=batch_size)
    t = time.perf_counter()
    if overlap:
        acts = extract_activations(iter_movie(Path(movie), n_frames), built, LAYERS, batch_size=batch_size, prefetch=2)
    else:
        frames = movie_frames(Path(movie), n_frames)
        acts = extract_activations(frames, built, LAYERS, batch_size=batch_size, prefetch=0)
    wall = time.perf_counter() - t
    return {"fps": acts.n_timepoints / wall, "wall_s": wall, "peak_gb": peak_gb()}




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000, help="movie length in frames for parts 2 and 3")
    parser.add_argument("--efficiency-frames", type=int, default=192, help="frames per model in part 1")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        serve_child(args.child, {"ours": child_ours, "baseline": child_baseline, "stream": child_stream})
        return

    report: dict[str, object] = {"machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                                 "date": time.strftime("%Y-%m-%d %H:%M")}
    gemm = gemm_gflops()
    report["gemm_gflops"] = gemm
    print(f"dense float32 GEMM: {gemm:.1f} GFLOP/s ({torch.get_num_threads()} threads)")

    print("\n1. Efficiency against the hardware limit (random weights, 180x256 frames, 5 layers in one pass)")
    eff = {}
    for model in ("resnet50", "resnet18", "efficientnet_lite0"):
        gf = model_gflops(model)
        r = run_child(__file__, "ours", model=model, n_frames=args.efficiency_frames, frames_path=None, batch_size=args.batch_size)
        limit = gemm / gf
        eff[model] = {"gflop_per_frame": gf, "fps": r["fps"], "limit_fps": limit, "share_of_limit": r["fps"] / limit}
        print(f"  {model:20s} {gf:6.2f} GFLOP/frame  {r['fps']:7.1f} frames/s  limit {limit:7.1f}  "
              f"-> {100 * r['fps'] / limit:5.1f}% of the limit")
    report["efficiency"] = eff

    from syncact.simulate.movie import make_movie

    with tempfile.TemporaryDirectory() as tmp:
        movie = Path(tmp) / "movie.mp4"
        fps = 12.0
        make_movie(movie, args.frames / fps + 1.0, fps=fps, size=(256, 180), seed=0)
        frames = movie_frames(movie, args.frames)
        np.save(Path(tmp) / "frames.npy", frames)
        frames_path = str(Path(tmp) / "frames.npy")
        print(f"\n2. Against a THINGSvision/Net2Brain-style loop: {len(frames)} frames of real photos, resnet18, {LAYERS}")
        ours = run_child(__file__, "ours", model="resnet18", n_frames=args.frames, frames_path=frames_path, batch_size=args.batch_size)
        base = run_child(__file__, "baseline", model="resnet18", frames_path=frames_path, batch_size=args.batch_size)
        report["versus_usual"] = {"ours": ours, "usual": base, "speedup": ours["fps"] / base["fps"],
                                  "peak_ratio": base["peak_gb"] / ours["peak_gb"],
                                  "added_ratio": base["added_gb"] / ours["added_gb"],
                                  "ours_share_of_limit": ours["fps"] / eff["resnet18"]["limit_fps"],
                                  "usual_share_of_limit": base["fps"] / eff["resnet18"]["limit_fps"]}
        for label, r in (("syncact", ours), ("usual  ", base)):
            print(f"  {label} : {r['fps']:6.1f} frames/s ({100 * r['fps'] / eff['resnet18']['limit_fps']:.0f}% of the limit), "
                  f"peak {r['peak_gb']:.2f} GB, added by extraction {r['added_gb']:.2f} GB")
        print(f"  -> {ours['fps'] / base['fps']:.2f}x the frames/s; {base['peak_gb'] / ours['peak_gb']:.1f}x less peak memory, "
              f"{base['added_gb'] / ours['added_gb']:.1f}x less memory added by extraction "
              f"(the usual way keeps {base['kept_maps_gb']:.2f} GB of feature maps)")

        n3 = min(args.frames, 600)
        print(f"\n3. Decoding overlapped with inference ({n3} frames, resnet18)")
        seq = run_child(__file__, "stream", model="resnet18", movie=str(movie), n_frames=n3, batch_size=args.batch_size, overlap=False)
        ovl = run_child(__file__, "stream", model="resnet18", movie=str(movie), n_frames=n3, batch_size=args.batch_size, overlap=True)
        report["decode_overlap"] = {"sequential": seq, "overlapped": ovl, "speedup": ovl["fps"] / seq["fps"]}
        print(f"  decode all, then extract: {seq['fps']:6.1f} frames/s, peak {seq['peak_gb']:.2f} GB")
        print(f"  streamed with prefetch  : {ovl['fps']:6.1f} frames/s, peak {ovl['peak_gb']:.2f} GB "
              f"-> {ovl['fps'] / seq['fps']:.2f}x")

    if torch.cuda.is_available():
        print(f"\n4. GPU ({torch.cuda.get_device_name()}): float16 autocast, uint8 frames from pinned memory")
        gpu = {}
        for model in ("resnet50", "resnet18", "efficientnet_lite0"):
            r = run_child(__file__, "ours", model=model, n_frames=4 * args.efficiency_frames, frames_path=None, batch_size=128,
                       device="cuda")
            gpu[model] = r["fps"]
            print(f"  {model:20s} {r['fps']:8.1f} frames/s")
        report["gpu"] = gpu
    else:
        report["gpu"] = None
        print("\n4. GPU: none on this machine")
    print(f"\nwrote {write_record(args.out, 'extract', report)}")


if __name__ == "__main__":
    main()
