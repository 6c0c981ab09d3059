"""Decode a movie with PyAV and keep one frame per fMRI time point (TR window).

The frame for time point ``t`` is the last frame whose presentation time lies in the window
``[offset + t * TR, offset + (t + 1) * TR)``. Times come from the container's timestamps, so variable
frame rate movies work. Decoding is sequential: the file is read once from the start, never seeked per
frame, and only the frames that are kept are converted to RGB.
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
# A frame whose timestamp is within this many seconds of a window edge is taken to lie on the edge.
_TIME_EPS = 1e-6


@dataclass(frozen=True)
class Frames:
    """Movie frames synchronised with fMRI time points.

    Attributes
    ----------
    images : ndarray of shape (n_timepoints, height, width, 3), dtype uint8
        RGB frame shown for each time point.
    times : ndarray of shape (n_timepoints,)
        Presentation time (seconds, movie clock) of each kept frame.
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
                return cls(images=data["images"], times=data["times"], **meta)
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptFileError(f"frames file {str(path)!r} cannot be read ({exc}); delete it to recompute.") from exc


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
        Time at which the last frame stops being shown.
    """
    path = check_file(path, "movie")
    container = _open(path)
    try:
        stream = container.streams.video[0]
        end = 0.0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = float(packet.pts * packet.time_base)
            dur = float(packet.duration * packet.time_base) if packet.duration else 0.0
            end = max(end, start + dur)
        return end
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

    emitted = 0  # windows yielded so far
    n_gaps = 0
    previous: tuple[np.ndarray, float] | None = None

    def complete(index: int, image: np.ndarray, t: float) -> Iterator[tuple[int, np.ndarray, float]]:
        """Yield window ``index`` and, before it, any window that got no frame of its own (repeated frame)."""
        nonlocal emitted, n_gaps, previous
        fill = previous or (image, t)  # leading empty windows take the first frame
        for j in range(emitted, index):
            n_gaps += 1
            yield j, fill[0], fill[1]
        previous = (image, t)
        emitted = index + 1
        yield index, image, t

    pending = None  # (window index, av frame, time) waiting to learn whether it is the last of its window
    last_time = -math.inf
    last_duration = 0.0
    container = _open(path)
    bar = tqdm(total=n_timepoints, desc=f"frames {path.name}", unit="TR", disable=_io.bar_disabled(progress), leave=False)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if frame.pts is None or frame.time is None:
                    raise StimulusError(f"movie {str(path)!r} has a frame without a timestamp; remux it (ffmpeg -i IN -c copy OUT).")
                t = float(frame.time)
                last_time = t
                last_duration = float(frame.duration * frame.time_base) if frame.duration else last_duration
                index = math.floor((t - offset) / tr + _TIME_EPS)
                if index < 0:
                    continue
                if index >= n_timepoints:
                    break
                if policy == "first":
                    if index >= emitted:
                        for item in complete(index, to_rgb(frame), t):
                            bar.update(1)
                            yield item
                    continue
                if pending is not None and pending[0] != index:
                    for item in complete(pending[0], to_rgb(pending[1]), pending[2]):
                        bar.update(1)
                        yield item
                pending = (index, frame, t)
        except (OSError, ValueError) as exc:
            if isinstance(exc, StimulusError):
                raise
            raise CorruptFileError(f"movie {str(path)!r} could not be decoded past {last_time:.2f} s ({exc}).") from exc
        if pending is not None:
            for item in complete(pending[0], to_rgb(pending[1]), pending[2]):
                bar.update(1)
                yield item
    finally:
        bar.close()
        container.close()

    if emitted == 0:
        raise StimulusError(
            f"movie {str(path)!r} has no frame after offset={offset:g} s (its last frame is at {last_time:.2f} s); "
            "check the offset."
        )
    if emitted < n_timepoints:
        movie_end = last_time + last_duration
        scan_end = offset + n_timepoints * tr
        raise StimulusError(
            f"movie {str(path)!r} lasts {movie_end:.2f} s but the scan needs {scan_end:.2f} s "
            f"({n_timepoints} TRs x {tr:g} s from offset {offset:g} s); its frames stop in TR window "
            f"{emitted} of {n_timepoints}. Pass fewer time points (drop the last volumes) or the right movie."
        )
    if n_gaps:
        logger.warning(
            "%s: %d TR windows hold no frame (frame interval longer than TR=%g s); the previous frame is repeated.",
            path.name, n_gaps, tr,
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
