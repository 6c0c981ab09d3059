"""What every benchmark here shares: measurements in child processes, peak memory, a JSON record."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def peak_gb() -> float:
    """Peak resident memory of this process in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class AnonPeak:
    """Peak of this process's anonymous resident memory (``RssAnon``: its own arrays, not the page cache of files
    it maps), sampled every ``interval`` seconds by a daemon thread; ``gb()`` reads the peak so far (Linux)."""

    def __init__(self, interval: float = 0.2) -> None:
        import threading

        self.peak_kb = 0
        self.interval = interval
        threading.Thread(target=self._sample, daemon=True).start()

    def _read(self) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
        return 0

    def _sample(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, self._read())
            time.sleep(self.interval)

    def gb(self) -> float:
        self.peak_kb = max(self.peak_kb, self._read())
        return self.peak_kb / 1024**2

    def now_gb(self) -> float:
        """The anonymous resident memory now (not the peak)."""
        return self._read() / 1024**2


def movie_frames(path: str | Path, n_frames: int):  # noqa: ANN201 - an (n, h, w, 3) uint8 ndarray
    """Decode the first ``n_frames`` frames of a movie to (n, h, w, 3) uint8 (PyAV and numpy imported here)."""
    import av
    import numpy as np

    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == n_frames:
                break
    return np.stack(out)


def run_child(script: str, kind: str, **kw: object) -> dict:
    """Run ``script --child '{"kind": kind, ...}'`` in a fresh process; return the JSON its last line prints."""
    proc = subprocess.run([sys.executable, script, "--child", json.dumps({"kind": kind, **kw})], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child {kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def syncact_run(config: Path, out: Path, *, cache: Path, workers: int | None = None, src: Path | None = None,
                threads: int | None = None) -> tuple[float, dict[str, float]]:
    """``syncact run config --out out [--workers N]`` in a fresh process, in the config's folder, with its own
    activation cache; ``src``: the syncact sources to import (another checkout), ``threads``: its OMP_NUM_THREADS.
    Returns the command's wall time and the run's provenance timings."""
    env = {**os.environ, "SYNCACT_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1",
           **({"PYTHONPATH": str(src)} if src else {}), **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    cmd = [sys.executable, "-m", "syncact.cli", "run", str(config), "--out", str(out), "--no-progress"]
    cmd += ["--workers", str(workers)] if workers else []
    tic = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=config.parent, capture_output=True, text=True)
    wall = time.perf_counter() - tic
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall, json.loads((out / "provenance.json").read_text())["timings"]


def serve_child(spec: str, kinds: dict) -> None:
    """In the child: run the measurement named in ``spec`` and print its result as one JSON line."""
    args = json.loads(spec)
    print(json.dumps(kinds[args.pop("kind")](**args)))


def write_record(out: str | Path, name: str, report: dict) -> Path:
    """Write ``report`` to ``<out>/<name>-<date-time>.json`` and return the path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    return path


def timed_plan(plan, store: str | Path, workers: int | None) -> tuple[float, dict]:  # noqa: ANN001 - a distributed.Plan
    """Run a plan of ``syncact.units`` into ``store`` (in-process, or on a LocalCluster of ``workers``):
    its wall time and every unit's result by name."""
    from syncact.units import run_plan

    tic = time.perf_counter()
    done = run_plan(plan, store, workers=workers, progress=False)
    return time.perf_counter() - tic, {name: done[name] for name in plan.units}
