"""The embedded naturalistic dataset with planted ground truth (see DESIGN.md section 6)."""

from syncact.simulate.bold import DEFAULT_NETWORKS, NetworkSpec
from syncact.simulate.dataset import SimulatedDataset, load_ground_truth, make_dataset
from syncact.simulate.event_related import DEFAULT_REGIONS, EventRelatedData, PlantedRegion, simulate_event_related
from syncact.simulate.movie import make_movie

__all__ = [
    "DEFAULT_NETWORKS",
    "DEFAULT_REGIONS",
    "EventRelatedData",
    "NetworkSpec",
    "PlantedRegion",
    "SimulatedDataset",
    "load_ground_truth",
    "make_dataset",
    "make_movie",
    "simulate_event_related",
]
