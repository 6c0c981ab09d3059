from fractions import Fraction

import av
import numpy as np
import pytest

from syncact.exceptions import CorruptFileError, MissingFileError, StimulusError
from syncact.stimulus import Frames, iter_sync_frames, movie_duration, sync_frames, sync_key


def _write_movie(path, times, size=(64, 48)):
    """Frames whose gray level encodes their index, shown at the given presentation times (s)."""
    tb = Fraction(1, 1000)
    with av.open(str(path), "w", format="mp4") as container:
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
    with pytest.raises(StimulusError, match=r"lasts 4\.\d\d s but the scan needs 8\.00 s"):
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


def test_windows_without_a_frame_repeat_the_previous_one(tmp_path, caplog):
    """Frames every 2.5 s at TR 1 s: empty windows (also leading ones, after an offset) repeat a frame."""
    path = tmp_path / "slow.mp4"
    _write_movie(path, np.arange(6) * 2.5)  # frames at 0, 2.5, 5, 7.5, 10, 12.5
    frames = sync_frames(path, tr=1.0, n_timepoints=8, offset=0.5)
    # windows [0.5+t, 1.5+t): frame 1 (2.5 s) falls in window 2, frame 2 (5 s) in window 4, frame 3 in 7
    np.testing.assert_array_equal(_index(frames), [1, 1, 1, 1, 2, 2, 2, 3])
    assert "5 TR windows hold no frame" in caplog.text


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
