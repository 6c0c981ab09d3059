"""Movies in, one frame per fMRI time point out."""

from syncact.stimulus.video import Frames, movie_duration, sync_frames

__all__ = ["Frames", "movie_duration", "sync_frames"]
