"""syncact: couple the visual representations of ANNs with human brain function (Sync-ACT).

The pipeline, stage by stage (each is also usable alone):

``stimulus.sync_frames``  movie -> one frame per fMRI time point
``ann.extract_activations``  frames -> filter temporal activations (T, F) per layer
``brain.scan_dataset`` / ``brain.prepare_dataset``  any dataset layout -> a prepared Zarr store
``networks.FBNEmbedding``  prepared runs -> functional brain networks
``sync.pair``  FBN and filter activations -> Eq.1 / Eq.2 pairs with significance
``experiment.run_experiment``  all of the above from one config, with an HTML report (docs/architecture.md)
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
