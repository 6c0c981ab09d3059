"""Decode a movie with PyAV and keep one frame per fMRI time point (TR window).

Times are on the movie's own clock: its first frame is shown at time 0, whatever the container's
timestamps start at (MPEG-TS streams and stream-copied trims start later), and each frame stays on
screen until the next one starts (the last one for its own duration). Time point ``t`` covers the window
``[offset + t * TR, offset + (t + 1) * TR)``; with ``policy="last"`` (the paper) it keeps the frame on
screen at the end of its window -- the last frame that starts in it, or the frame still on screen from
before when none does -- and with ``"first"`` the frame on screen at its start. Timestamps are used, so
variable frame rate movies work. Decoding is sequential: the file is read once from the start, never
seeked per frame, and only the frames that are kept are converted to RGB.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from syncact import _io
from syncact._validation import check_choice, check_file, check_positive
from syncact.exceptions import CorruptFileError, StimulusError

logger = logging.getLogger(__name__)

POLICIES = ("last", "first")
# Seconds: a frame that starts within this of a window edge starts on the edge (it belongs to the later window).
_TIME_EPS = 1e-6


@dataclass(frozen=True)
class Frames:
    """Movie frames synchronised with fMRI time points.

    Attributes
    ----------
    images : ndarray of shape (n_timepoints, height, width, 3), dtype uint8
        RGB frame shown for each time point.
    times : ndarray of shape (n_timepoints,)
        Presentation time of each kept frame in seconds on the movie's clock (its first frame at 0).
    tr : float
        Repetition time in seconds.
    offset : float
        Movie time (seconds) at which the first TR window starts.
    source : str
        Path of the movie the frames were decoded from.
    policy : str
        Which frame of a window was kept ("last" or "first").
    """

    images: np.ndarray
    times: np.ndarray
    tr: float
    offset: float
    source: str
    policy: str = "last"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def save(self, path: str | Path) -> Path:
        """Save the frames to ``path`` (``.npz``) atomically, with their metadata."""
        meta = {"tr": self.tr, "offset": self.offset, "source": self.source, "policy": self.policy}
        return _io.save_npz(path, images=self.images, times=self.times, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | Path) -> Frames:
        """Load frames saved by :meth:`save`."""
        path = check_file(path, "frames file")
        try:
            with np.load(path) as data:
                meta = json.loads(str(data["meta"]))
                frames = cls(images=data["images"], times=data["times"], **meta)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(f"frames file {str(path)!r} cannot be read ({exc}); delete it to recompute, or write "
                                   "it with Frames.save / `syncact run`.") from exc
        images, times = frames.images, np.asarray(frames.times)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or not len(images):
            raise CorruptFileError(f"frames file {str(path)!r} holds images of shape {images.shape} and dtype {images.dtype}; "
                                   "expected (n_timepoints, height, width, 3) uint8 RGB frames, as Frames.save writes.")
        if times.shape != (len(images),):
            raise CorruptFileError(f"frames file {str(path)!r} holds {len(images)} images but {times.size} times; "
                                   "write it again with Frames.save.")
        return frames


def _open(path: Path):  # noqa: ANN202 - av types
    import av

    try:
        container = av.open(str(path))
    except (av.error.InvalidDataError, av.error.FFmpegError, OSError) as exc:
        raise CorruptFileError(
            f"movie {str(path)!r} cannot be opened by FFmpeg ({exc}); check that it is a complete video file."
        ) from exc
    if not container.streams.video:
        container.close()
        raise StimulusError(f"movie {str(path)!r} has no video stream.")
    return container


def movie_duration(path: str | Path) -> float:
    """Duration of a movie in seconds: the end of its last frame, found by decoding packets' timestamps.

    Parameters
    ----------
    path : str or Path
        Movie file readable by FFmpeg.

    Returns
    -------
    float
        Time at which the last frame stops being shown, on the movie's clock (its first frame at 0).
    """
    path = check_file(path, "movie")
    container = _open(path)
    try:
        stream = container.streams.video[0]
        first, end = math.inf, -math.inf
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = float(packet.pts * packet.time_base)
            dur = float(packet.duration * packet.time_base) if packet.duration else 0.0
            first, end = min(first, start), max(end, start + dur)
        return end - first if math.isfinite(first) else 0.0
    finally:
        container.close()


def iter_sync_frames(
    path: str | Path,
    tr: float,
    n_timepoints: int,
    *,
    offset: float = 0.0,
    size: tuple[int, int] | None = None,
    policy: str = "last",
    progress: bool = False,
) -> Iterator[tuple[int, np.ndarray, float]]:
    """Stream the frame of each TR window while the movie decodes (see :func:`sync_frames`).

    Yields
    ------
    index : int
        Time point, 0 .. n_timepoints - 1, in order, each exactly once.
    image : ndarray of shape (height, width, 3), uint8
    time : float
        Presentation time of the frame in the movie (s).

    Raises
    ------
    StimulusError
        When the movie ends before the last TR window; raised after the windows it does cover were yielded.
    """
    path = check_file(path, "movie")
    check_positive("tr", tr)
    check_positive("n_timepoints", n_timepoints, integer=True)
    check_positive("offset", offset, allow_zero=True)
    check_choice("policy", policy, POLICIES)
    n_timepoints = int(n_timepoints)
    if size is not None:
        width, height = (int(s) for s in size)
        check_positive("size[0] (width)", width, integer=True)
        check_positive("size[1] (height)", height, integer=True)

    def to_rgb(frame) -> np.ndarray:  # noqa: ANN001
        if size is None:
            return frame.to_ndarray(format="rgb24")
        return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")

    # window j is sampled at its end ("last") or start ("first"); the frame on screen there is the last one
    # that starts before it ("last": before the edge; "first": at the edge or before)
    shift = 1 if policy == "last" else 0

    def sampled_before(j: int, t: float) -> bool:
        """Whether a frame starting at ``t`` comes after window ``j``'s sample point (so it is not the one kept)."""
        point = offset + (j + shift) * tr
        return t >= point - _TIME_EPS if policy == "last" else t > point + _TIME_EPS

    emitted = 0  # windows yielded so far
    n_held = 0  # windows in which no frame starts (the frame from before is kept)
    current = None  # [av frame, time, rgb image or None]: the frame on screen
    start = None  # the container's time of the first frame: the movie clock's 0
    last_time, last_duration = -math.inf, 0.0

    def keep(j: int) -> tuple[int, np.ndarray, float]:
        nonlocal n_held
        if current[2] is None:
            current[2] = to_rgb(current[0])
        n_held += policy == "last" and current[1] < offset + j * tr - _TIME_EPS
        return j, current[2], current[1]

    container = _open(path)
    bar = tqdm(total=n_timepoints, desc=f"frames {path.name}", unit="TR", disable=_io.bar_disabled(progress), leave=False)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if frame.pts is None or frame.time is None:
                    raise StimulusError(f"movie {str(path)!r} has a frame without a timestamp; remux it (ffmpeg -i IN -c copy OUT).")
                start = float(frame.time) if start is None else start
                t = float(frame.time) - start
                # how long this frame stays on screen if it is the last: its duration, or the interval before it
                # when that is longer (some encoders write the nominal rate's duration on every frame)
                interval = t - last_time if math.isfinite(last_time) else 0.0
                last_duration = max(float(frame.duration * frame.time_base) if frame.duration else 0.0, interval)
                last_time = t
                while current is not None and emitted < n_timepoints and sampled_before(emitted, t):
                    bar.update(1)
                    yield keep(emitted)
                    emitted += 1
                if emitted == n_timepoints:
                    break
                current = [frame, t, None]
        except (OSError, ValueError) as exc:
            if isinstance(exc, StimulusError):
                raise
            raise CorruptFileError(f"movie {str(path)!r} could not be decoded past {last_time:.2f} s ({exc}).") from exc
        # the movie ended: its last frame stays on screen for last_duration
        movie_end = last_time + last_duration
        while current is not None and emitted < n_timepoints and offset + (emitted + 1) * tr <= movie_end + _TIME_EPS:
            bar.update(1)
            yield keep(emitted)
            emitted += 1
    finally:
        bar.close()
        container.close()

    if current is None:
        raise StimulusError(f"movie {str(path)!r} has no frame to decode; check that it is a complete video file.")
    if emitted < n_timepoints:
        scan_end = offset + n_timepoints * tr
        raise StimulusError(
            f"movie {str(path)!r} lasts {movie_end:.2f} s but the scan needs {scan_end:.2f} s "
            f"({n_timepoints} TRs x {tr:g} s from offset {offset:g} s); it covers {emitted} of {n_timepoints} "
            "TR windows. Pass fewer time points (drop the last volumes) or the right movie."
        )
    if n_held:
        logger.warning(
            "%s: %d TR windows hold no frame start (frame interval longer than TR=%g s); the frame on screen "
            "from before is kept.", path.name, n_held, tr,
        )


def sync_frames(
    path: str | Path,
    tr: float,
    n_timepoints: int,
    *,
    offset: float = 0.0,
    size: tuple[int, int] | None = None,
    policy: str = "last",
    progress: bool = False,
) -> Frames:
    """Keep the frame shown in each TR window of a movie.

    Parameters
    ----------
    path : str or Path
        Movie file (any container and codec FFmpeg reads, e.g. H.264 MP4).
    tr : float
        Repetition time of the scan in seconds.
    n_timepoints : int
        Number of fMRI time points (volumes) to align.
    offset : float, default=0.0
        Movie time in seconds at which the scan's first volume starts (for a movie that starts late, or
        to skip a lead-in). Must be >= 0.
    size : (width, height) or None, default=None
        Resize every kept frame to this size (HCP 7T in the paper: (256, 180)). None keeps the original.
    policy : {"last", "first"}, default="last"
        Which frame of each window to keep. The paper keeps the last one.
    progress : bool, default=False
        Show a progress bar over time points.

    Returns
    -------
    Frames
        ``images`` of shape (n_timepoints, height, width, 3), uint8.

    Raises
    ------
    StimulusError
        If the movie ends before the last TR window (the message gives both durations), or a frame has
        no timestamp.

    See Also
    --------
    iter_sync_frames : the same frames as a stream, to overlap decoding with a network's inference.
    """
    images, times = [], []
    for _index, image, t in iter_sync_frames(path, tr, n_timepoints, offset=offset, size=size, policy=policy,
                                             progress=progress):
        images.append(image)
        times.append(t)
    return Frames(np.stack(images), np.asarray(times, dtype=float), float(tr), float(offset), str(path), policy)


def sync_key(path: str | Path, tr: float, n_timepoints: int, *, offset: float = 0.0,
             size: tuple[int, int] | None = None, policy: str = "last") -> str:
    """Identity of the frames :func:`iter_sync_frames` yields: the movie's SHA-256 and the sync settings.

    Pass it as ``frames_key`` to :func:`syncact.ann.extract_activations` to cache activations of a stream.
    """
    path = check_file(path, "movie")
    return f"movie-sha256:{_io.file_sha256(path)}|tr={float(tr)!r}|n={int(n_timepoints)}|offset={float(offset)!r}|" \
           f"size={tuple(size) if size else None}|policy={policy}"
