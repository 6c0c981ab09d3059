"""Movies in, one frame per fMRI time point out."""

from syncact.stimulus.features import FRAME_FEATURES
from syncact.stimulus.video import Frames, iter_sync_frames, movie_duration, sync_frames, sync_key

__all__ = ["FRAME_FEATURES", "Frames", "iter_sync_frames", "movie_duration", "sync_frames", "sync_key"]
