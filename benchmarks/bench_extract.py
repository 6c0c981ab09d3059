"""Activation-extraction benchmark: frames/s against the hardware limit, and against the usual way.

Run:  .venv/bin/python benchmarks/bench_extract.py [--frames 2000] [--out benchmarks/results]

Three measurements, each variant in its own process (so peak memory is its own), all in one run so the
ratios compare like with like on a noisy shared machine:

1. Efficiency: frames/s of ``extract_activations`` for ResNet-50, ResNet-18 and EfficientNet-Lite0
   (four blocks and the last conv in one pass) against each model's roofline, from rates measured in the
   same run: the dense float32 GEMM rate (2048 x 2048) and the memory bandwidth (a 256 MB copy, bytes read
   and written). Every convolution and linear layer of the network as extraction runs it (batch norms
   folded) costs max(FLOPs / GEMM rate, bytes / bandwidth), its bytes being its input, output and weights
   once in float32; activations, additions and paddings count as fused into them (free), and decoding and
   resizing the frames as free too. Compute-bound layers (ResNet's) meet the GEMM rate, depthwise and
   pointwise ones (Lite0's) the bandwidth. The share of the bare GEMM rate is kept beside it.
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
from _harness import movie_frames, peak_gb, run_child, serve_child, write_record

LAYERS = ["block1", "block2", "block3", "block4", "last_conv"]




def _rss_gb() -> float:
    """Current resident memory (Linux), to subtract what was there before the extraction started."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def gemm_gflops(n: int = 2048, repeats: int = 10) -> dict[str, float]:
    """Dense float32 matrix-product rates of this machine (best of three timings each): ``mm``, torch's matmul of
    two n x n matrices (MKL), and ``conv1x1``, the same kind of product run by oneDNN as a 1 x 1 convolution of
    1,024 to 1,024 channels over 8 x 28 x 28 positions (6,272 x 1,024 x 1,024), which the convolutions use. On
    AMD CPUs MKL's product ran at under half oneDNN's; the roofline takes the faster of the two."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    conv = torch.nn.Conv2d(1024, 1024, 1, bias=False).eval().to(memory_format=torch.channels_last)
    x = torch.randn(8, 1024, 28, 28).contiguous(memory_format=torch.channels_last)
    runs = {"mm": (lambda: a @ b, 2 * n**3), "conv1x1": (lambda: conv(x), 2 * 8 * 28 * 28 * 1024 * 1024)}
    rates = {}
    with torch.inference_mode():
        for name, (run, flops) in runs.items():
            for _ in range(3):
                run()
            best = 0.0
            for _ in range(3):
                t = time.perf_counter()
                for _ in range(repeats):
                    run()
                best = max(best, flops * repeats / (time.perf_counter() - t) / 1e9)
            rates[name] = best
    return rates


def bandwidth_gb_s(repeats: int = 3) -> float:
    """Memory bandwidth: a 1 GB float32 copy (past any cache), bytes read plus bytes written per second (best of
    three)."""
    src = torch.ones(2**28)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            dst.copy_(src)
        best = max(best, 2 * src.numel() * 4 * repeats / (time.perf_counter() - t) / 1e9)
    return best


def roofline(name: str, gemm: float, bandwidth: float, batch: int = 8) -> dict:
    """Per-frame roofline of ``name`` as extraction runs it: each convolution / linear layer at
    max(FLOPs / GEMM rate, bytes / bandwidth), elementwise work fused (free). Rates in GFLOP/s and GB/s."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    from syncact.ann import get_model
    from syncact.ann.inference import inference_copy

    built = get_model(name, "random")
    hooked = {built.layers[layer].module for layer in LAYERS}
    net = inference_copy(built, hooked, torch.device("cpu"))
    ops: list[tuple[str, float, float]] = []

    def size(t: torch.Tensor) -> int:
        return t.numel() * t.element_size()

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            out = func(*args, **(kwargs or {}))
            op = func.__name__.split(".")[0]
            if op in ("conv2d", "convolution", "mkldnn_convolution", "_convolution"):
                x, w = args[0], args[1]
                flops = 2 * out.numel() * w.shape[1] * w.shape[2] * w.shape[3]
            elif op in ("linear", "addmm", "mm"):
                x, w = (args[0], args[1]) if op != "addmm" else (args[1], args[2])
                flops = 2 * out.numel() * x.shape[-1]
            else:
                return out
            tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
            ops.append((op, flops, sum(size(t) for t in tensors) + size(out)))
            return out

    x = torch.randn(batch, 3, built.input_size, built.input_size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), Record():
        net(x)
    compute_s = sum(f for _, f, _ in ops) / gemm / 1e9
    memory_s = sum(b for _, _, b in ops) / bandwidth / 1e9
    bound_s = sum(max(f / gemm, b / bandwidth) for _, f, b in ops) / 1e9
    n_memory = sum(b / bandwidth > f / gemm for _, f, b in ops)
    return {"layers": len(ops), "memory_bound_layers": int(n_memory), "gflop_per_frame": sum(f for _, f, _ in ops) / batch / 1e9,
            "mb_per_frame": sum(b for _, _, b in ops) / batch / 1e6, "compute_only_fps": batch / compute_s,
            "bytes_only_fps": batch / memory_s, "fps": batch / bound_s}


def model_gflops(name: str) -> float:
    """FLOPs of one frame through the whole network (convolutions and matrix products), in GFLOP."""
    from torch.utils.flop_counter import FlopCounterMode

    from syncact.ann import get_model

    built = get_model(name, "random")
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        built.module(torch.zeros(1, 3, built.input_size, built.input_size))
    return counter.get_total_flops() / 1e9


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
def child_batch_sweep(models: list[str], n_frames: int, batches: list[int], rounds: int) -> dict:
    """Frames/s of each model at each batch size, interleaved over ``rounds`` rounds in one process (best kept)."""
    from syncact.ann import extract_activations, get_model

    frames = (np.random.default_rng(0).random((n_frames, 180, 256, 3)) * 255).astype(np.uint8)
    built = {m: get_model(m, "random") for m in models}
    for m in models:
        extract_activations(frames[:16], built[m], LAYERS, batch_size=8)
    fps: dict[str, dict[str, list[float]]] = {m: {str(b): [] for b in batches} for m in models}
    for _ in range(rounds):
        for m in models:
            for b in batches:
                t = time.perf_counter()
                extract_activations(frames, built[m], LAYERS, batch_size=b)
                fps[m][str(b)].append(n_frames / (time.perf_counter() - t))
    return {"fps": fps, "best": {m: {b: max(v) for b, v in row.items()} for m, row in fps.items()}}


def child_ours(model: str, n_frames: int, frames_path: str | None, batch_size: int | None, device: str = "cpu",
               repeats: int = 1) -> dict:
    from syncact.ann import extract_activations, get_model

    built = get_model(model, "random")
    if frames_path:
        frames = np.load(frames_path)
    else:
        frames = (np.random.default_rng(0).random((n_frames, 180, 256, 3)) * 255).astype(np.uint8)
    extract_activations(frames[: batch_size or 32], built, LAYERS, batch_size=batch_size, device=device)  # warm-up
    before = _rss_gb()
    walls = []
    for _ in range(repeats):  # the best of ``repeats``: the first passes of a process run slower (its allocator)
        t = time.perf_counter()
        acts = extract_activations(frames, built, LAYERS, batch_size=batch_size, device=device)
        walls.append(time.perf_counter() - t)
    wall = min(walls)
    return {"fps": len(frames) / wall, "wall_s": wall, "fps_runs": [len(frames) / w for w in walls], "peak_gb": peak_gb(),
            "added_gb": peak_gb() - before, "n_filters": {k: v.shape[1] for k, v in acts.layers.items()}}


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
    warm = movie_frames(Path(movie), batch_size or 8)
    extract_activations(warm, built, LAYERS, batch_size=batch_size)
    t = time.perf_counter()
    if overlap:
        acts = extract_activations(iter_movie(Path(movie), n_frames), built, LAYERS, batch_size=batch_size, prefetch=2)
    else:
        frames = movie_frames(Path(movie), n_frames)
        acts = extract_activations(frames, built, LAYERS, batch_size=batch_size, prefetch=0)
    wall = time.perf_counter() - t
    return {"fps": acts.n_timepoints / wall, "wall_s": wall, "peak_gb": peak_gb()}




def _movie_parts(args: argparse.Namespace, eff: dict, report: dict) -> None:
    """Parts 2 and 3, on a movie of real photos."""
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
        base = run_child(__file__, "baseline", model="resnet18", frames_path=frames_path, batch_size=args.batch_size or 32)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000, help="movie length in frames for parts 2 and 3")
    parser.add_argument("--efficiency-frames", type=int, default=192, help="frames per model in part 1 (best of 3 passes)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: extract_activations' own (8 on CPU)")
    parser.add_argument("--batch-sweep", action="store_true", help="also: frames/s at batches of 4, 8, 16 and 32 frames")
    parser.add_argument("--parts", default="1,2,3", help="1 (efficiency only) or 1,2,3 (parts 2 and 3 run together; the record says which ran)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        serve_child(args.child, {"ours": child_ours, "baseline": child_baseline, "stream": child_stream,
                                 "batch_sweep": child_batch_sweep})
        return

    parts = {int(p) for p in args.parts.split(",")}
    report: dict[str, object] = {"machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                                 "date": time.strftime("%Y-%m-%d %H:%M"), "parts": sorted(parts)}
    rates = gemm_gflops()
    gemm = max(rates.values())
    bandwidth = bandwidth_gb_s()
    report["gemm_rates"], report["gemm_gflops"], report["bandwidth_gb_s"] = rates, gemm, bandwidth
    print(f"dense float32 GEMM: {gemm:.1f} GFLOP/s (torch.mm {rates['mm']:.1f}, oneDNN 1x1 convolution "
          f"{rates['conv1x1']:.1f}), memory bandwidth {bandwidth:.1f} GB/s ({torch.get_num_threads()} threads)")

    print("\n1. Efficiency against each model's roofline (random weights, 180x256 frames, 5 layers in one pass)")
    eff = {}
    for model in ("resnet50", "resnet18", "efficientnet_lite0"):
        gf = model_gflops(model)
        roof = roofline(model, gemm, bandwidth)
        r = run_child(__file__, "ours", model=model, n_frames=args.efficiency_frames, frames_path=None, batch_size=args.batch_size,
                      repeats=3)
        limit = gemm / gf
        eff[model] = {"gflop_per_frame": gf, "fps": r["fps"], "limit_fps": limit, "share_of_limit": r["fps"] / limit,
                      "roofline": roof, "share_of_roofline": r["fps"] / roof["fps"]}
        print(f"  {model:20s} {gf:6.2f} GFLOP, {roof['mb_per_frame']:6.1f} MB/frame ({roof['memory_bound_layers']} of "
              f"{roof['layers']} layers memory-bound)  {r['fps']:7.1f} frames/s  roofline {roof['fps']:7.1f} "
              f"-> {100 * r['fps'] / roof['fps']:5.1f}% of it ({100 * r['fps'] / limit:5.1f}% of the bare GEMM rate)")
    report["efficiency"] = eff
    if args.batch_sweep:
        sweep = run_child(__file__, "batch_sweep", models=list(eff), n_frames=96, batches=[4, 8, 16, 32], rounds=3)
        report["batch_sweep"] = sweep
        print("\n   frames/s by batch size (best of 3 interleaved rounds):")
        for m, row in sweep["best"].items():
            print(f"  {m:20s} " + "  ".join(f"{b}: {v:6.1f}" for b, v in row.items()))

    if parts & {2, 3}:
        _movie_parts(args, eff, report)

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
