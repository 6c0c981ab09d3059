"""Movies in, one frame per fMRI time point out; image sets for RSA."""

from syncact.stimulus.features import FRAME_FEATURES
from syncact.stimulus.images import load_images, natural_images, save_images
from syncact.stimulus.video import Frames, iter_sync_frames, movie_duration, sync_frames, sync_key

__all__ = ["FRAME_FEATURES", "Frames", "iter_sync_frames", "load_images", "movie_duration", "natural_images",
           "save_images", "sync_frames", "sync_key"]
