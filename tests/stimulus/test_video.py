from fractions import Fraction

import av
import numpy as np
import pytest

from syncact.exceptions import CorruptFileError, MissingFileError, StimulusError
from syncact.stimulus import Frames, iter_sync_frames, movie_duration, sync_frames, sync_key


def _write_movie(path, times, size=(64, 48), fmt="mp4"):
    """Frames whose colour encodes their index, shown at the given presentation times (s) of the container."""
    tb = Fraction(1, 1000)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = tb
        stream.codec_context.time_base = tb
        stream.options = {"crf": "0", "preset": "ultrafast", "bf": "0"}
        for i, t in enumerate(times):
            img = np.zeros((size[1], size[0], 3), dtype=np.uint8)
            img[..., 0], img[..., 1] = 8 * (i % 30), 8 * (i // 30)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = int(round(t * 1000))
            frame.time_base = tb
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _index(frames: Frames) -> np.ndarray:
    red = np.round(frames.images[:, :, :, 0].mean(axis=(1, 2)) / 8)
    green = np.round(frames.images[:, :, :, 1].mean(axis=(1, 2)) / 8)
    return (red + 30 * green).astype(int)


def test_last_frame_of_each_window_constant_rate(tmp_path):
    times = np.arange(40) * 0.25  # 4 fps, 10 s
    path = tmp_path / "m.mp4"
    _write_movie(path, times)
    frames = sync_frames(path, tr=1.0, n_timepoints=10)
    # window t holds frames 4t..4t+3; the last one is 4t+3
    np.testing.assert_array_equal(_index(frames), np.arange(10) * 4 + 3)
    np.testing.assert_allclose(frames.times, np.arange(10) + 0.75)
    first = sync_frames(path, tr=1.0, n_timepoints=10, policy="first")
    np.testing.assert_array_equal(_index(first), np.arange(10) * 4)


def test_variable_frame_rate_uses_timestamps(tmp_path):
    times = np.array([0.0, 0.1, 0.9, 1.2, 1.95, 2.5, 2.99, 3.4])
    path = tmp_path / "vfr.mp4"
    _write_movie(path, times)
    frames = sync_frames(path, tr=1.0, n_timepoints=3)
    np.testing.assert_array_equal(_index(frames), [2, 4, 6])


def test_offset_aligns_late_start_and_resize(tmp_path):
    times = np.arange(60) * 0.25
    path = tmp_path / "m.mp4"
    _write_movie(path, times)
    frames = sync_frames(path, tr=2.0, n_timepoints=5, offset=3.0, size=(32, 24))
    # window t covers [3 + 2t, 5 + 2t): last frame index = (5 + 2t) * 4 - 1
    np.testing.assert_array_equal(_index(frames), (5 + 2 * np.arange(5)) * 4 - 1)
    assert frames.images.shape == (5, 24, 32, 3)


def test_movie_shorter_than_scan_names_both_durations(tmp_path):
    path = tmp_path / "short.mp4"
    _write_movie(path, np.arange(20) * 0.25)  # 5 s
    with pytest.raises(StimulusError, match=r"lasts 5\.00 s but the scan needs 8\.00 s"):
        sync_frames(path, tr=1.0, n_timepoints=8)
    assert 4.75 <= movie_duration(path) <= 5.0


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(MissingFileError, match="nope.mp4"):
        sync_frames(tmp_path / "nope.mp4", tr=1.0, n_timepoints=3)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a movie" * 100)
    with pytest.raises(CorruptFileError, match="bad.mp4"):
        sync_frames(bad, tr=1.0, n_timepoints=3)


def test_frames_roundtrip(tmp_path):
    path = tmp_path / "m.mp4"
    _write_movie(path, np.arange(12) * 0.25)
    frames = sync_frames(path, tr=1.0, n_timepoints=3)
    frames.save(tmp_path / "f.npz")
    back = Frames.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(back.images, frames.images)
    assert back.tr == 1.0 and back.source == str(path)


def _on_screen(times, duration, points, *, at_end):
    """Reference: the index of the frame on screen just before (``at_end``) or at each point, on the movie's
    clock (first frame at 0), -1 when the movie has ended."""
    times = np.asarray(times) - times[0]
    out = []
    for p in points:
        started = np.flatnonzero(times < p - 1e-6) if at_end else np.flatnonzero(times <= p + 1e-6)
        ended = p > times[-1] + duration + 1e-6 if at_end else p >= times[-1] + duration - 1e-6
        out.append(-1 if ended or not started.size else int(started[-1]))
    return np.array(out)


def test_windows_without_a_frame_start_keep_the_frame_on_screen(tmp_path, caplog):
    """Frames every 2.5 s at TR 1 s: a window with no frame of its own keeps the frame shown through it,
    also the first windows after an offset (frame 0 is still on screen then)."""
    path = tmp_path / "slow.mp4"
    _write_movie(path, np.arange(6) * 2.5)  # frames at 0, 2.5, 5, 7.5, 10, 12.5
    frames = sync_frames(path, tr=1.0, n_timepoints=8, offset=0.5)
    # window ends 1.5, 2.5 (frame 1 starts on that edge: it belongs to the next window), 3.5, ..., 8.5
    np.testing.assert_array_equal(_index(frames), [0, 0, 1, 1, 2, 2, 2, 3])
    assert "5 TR windows hold no frame start" in caplog.text


# 60 frames at irregular intervals, on the writer's millisecond clock
VFR = np.round(np.cumsum(np.r_[0.0, np.random.default_rng(3).uniform(0.02, 0.4, size=59)]), 3)


@pytest.mark.parametrize("policy", ["last", "first"])
@pytest.mark.parametrize("tr, offset", [(1.0, 0.0), (0.7, 1.3), (0.1, 0.35), (0.25, 0.0)])
def test_vfr_frames_are_exact_window_by_window(tmp_path, tr, offset, policy):
    """Every window of a variable-frame-rate movie gets exactly the frame on screen at its end (last) or start
    (first), including TR shorter than the frame interval and the last windows that the last frame covers."""
    path = tmp_path / "vfr.mp4"
    duration = 0.1
    _write_movie(path, VFR)  # the encoder gives the last frame the previous interval as its duration
    end = VFR[-1] + (VFR[-1] - VFR[-2])
    n = int(np.floor((end - offset) / tr + 1e-9))  # every window the movie covers, the last ones included
    frames = sync_frames(path, tr=tr, n_timepoints=n, offset=offset, policy=policy)
    points = offset + (np.arange(n) + (policy == "last")) * tr
    expected = _on_screen(VFR, duration, points, at_end=policy == "last")
    expected[expected < 0] = len(VFR) - 1  # the last frame stays on screen for its duration
    np.testing.assert_array_equal(_index(frames), expected)
    np.testing.assert_allclose(frames.times, VFR[expected], atol=1e-3)
    with pytest.raises(StimulusError, match="lasts .* but the scan needs"):
        sync_frames(path, tr=tr, n_timepoints=n + int(np.ceil(0.5 / tr)) + 1, offset=offset, policy=policy)


@pytest.mark.parametrize("fmt, suffix", [("matroska", "mkv"), ("mpegts", "ts"), ("mp4", "mp4")])
def test_a_stream_that_starts_late_is_read_on_its_own_clock(tmp_path, fmt, suffix):
    """Containers whose first timestamp is not 0 (MPEG-TS, stream-copied trims): the first frame is time 0."""
    late, zero = tmp_path / f"late.{suffix}", tmp_path / f"zero.{suffix}"
    _write_movie(late, 3.0 + VFR, fmt=fmt)
    _write_movie(zero, VFR, fmt=fmt)
    a = sync_frames(late, tr=0.5, n_timepoints=12, offset=0.2)
    b = sync_frames(zero, tr=0.5, n_timepoints=12, offset=0.2)
    np.testing.assert_array_equal(_index(a), _index(b))
    np.testing.assert_array_equal(_index(a), _on_screen(VFR, 0.1, 0.2 + (np.arange(12) + 1) * 0.5, at_end=True))
    np.testing.assert_allclose(a.times, b.times, atol=1e-3)
    assert movie_duration(late) == pytest.approx(movie_duration(zero), abs=0.02)


def test_a_still_frame_spanning_the_offset_is_kept(tmp_path):
    """Frames before the offset are not dropped: the one still on screen when the scan starts is kept."""
    path = tmp_path / "still.mp4"
    _write_movie(path, [0.0, 2.6, 3.0, 4.1, 5.0, 6.0])
    frames = sync_frames(path, tr=1.0, n_timepoints=4, offset=1.0)  # windows [1,2) [2,3) [3,4) [4,5)
    np.testing.assert_array_equal(_index(frames), [0, 1, 2, 3])
    first = sync_frames(path, tr=1.0, n_timepoints=4, offset=1.0, policy="first")  # on screen at 1, 2, 3, 4
    np.testing.assert_array_equal(_index(first), [0, 0, 2, 2])


def test_the_last_frame_covers_the_last_windows(tmp_path):
    """One frame per second for 10 s, TR 0.5 s: the 20th window [9.5, 10) shows the last frame; no false
    'movie lasts X but the scan needs Y' error when X >= Y."""
    path = tmp_path / "slow.mp4"
    _write_movie(path, np.arange(10.0))
    frames = sync_frames(path, tr=0.5, n_timepoints=20)
    np.testing.assert_array_equal(_index(frames), np.repeat(np.arange(10), 2))
    with pytest.raises(StimulusError, match=r"lasts 10\.00 s but the scan needs 10\.50 s"):
        sync_frames(path, tr=0.5, n_timepoints=21)


def test_stream_equals_array_and_can_stop_early(tmp_path):
    path = tmp_path / "m.mp4"
    _write_movie(path, np.arange(40) * 0.25)
    frames = sync_frames(path, tr=1.0, n_timepoints=10, size=(32, 24))
    streamed = list(iter_sync_frames(path, tr=1.0, n_timepoints=10, size=(32, 24)))
    assert [i for i, _, _ in streamed] == list(range(10))
    np.testing.assert_array_equal(np.stack([img for _, img, _ in streamed]), frames.images)
    np.testing.assert_allclose([t for _, _, t in streamed], frames.times)
    gen = iter_sync_frames(path, tr=1.0, n_timepoints=10)
    next(gen)
    gen.close()  # closes the container without error
    short = iter_sync_frames(path, tr=1.0, n_timepoints=12)
    got = []
    with pytest.raises(StimulusError, match="the scan needs 12.00 s"):
        for item in short:
            got.append(item[0])
    assert got == list(range(10))  # what the movie covers was streamed before the error
    key = sync_key(path, 1.0, 10, size=(32, 24))
    assert key.startswith("movie-sha256:") and key != sync_key(path, 1.0, 10, size=(32, 24), offset=0.5)
