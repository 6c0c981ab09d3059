"""Cross-annotation: describe FBNs (atlases, meta-analytic terms, labels) and filters (classes, frame
features, top frames, labels), and score how well the two sides of each pair agree."""

from syncact.annotate.agreement import Agreement, agreement, description_text, sentence_encoder
from syncact.annotate.fbns import COLUMNS, CoordinateAtlas, LabelAtlas, TermMaps, user_labels
from syncact.annotate.filters import class_drivers, feature_drivers, top_frames

__all__ = [
    "COLUMNS",
    "Agreement",
    "CoordinateAtlas",
    "LabelAtlas",
    "TermMaps",
    "agreement",
    "class_drivers",
    "description_text",
    "feature_drivers",
    "sentence_encoder",
    "top_frames",
    "user_labels",
]
