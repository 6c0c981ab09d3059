"""Cross-annotation: describe FBNs (atlases, meta-analytic terms, labels) and filters (classes, frame
features, top frames, labels), and score how well the two sides of each pair agree."""

from syncact.annotate.agreement import Agreement, agreement, description_text, sentence_encoder
from syncact.annotate.cross import CrossAnnotation, cross_annotate, describe_fbns, describe_filters
from syncact.annotate.fbns import COLUMNS, CoordinateAtlas, LabelAtlas, TermMaps, map_peaks, read_label_file, user_labels
from syncact.annotate.filters import class_drivers, feature_drivers, top_frames
from syncact.annotate.parcellations import PARCELLATIONS, Parcellation

__all__ = [
    "COLUMNS",
    "Agreement",
    "CoordinateAtlas",
    "CrossAnnotation",
    "LabelAtlas",
    "PARCELLATIONS",
    "Parcellation",
    "TermMaps",
    "agreement",
    "class_drivers",
    "cross_annotate",
    "describe_fbns",
    "describe_filters",
    "description_text",
    "feature_drivers",
    "map_peaks",
    "read_label_file",
    "sentence_encoder",
    "top_frames",
    "user_labels",
]
