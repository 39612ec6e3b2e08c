"""stylenorm: train and compare image-to-image networks under different normalization layers.

Where things are decided:

* normalization: :mod:`stylenorm.nn.norm` (the only place that names a torch norm class)
* networks: :mod:`stylenorm.networks` (plain ``nn.Module``s)
* public pretrained files: :mod:`stylenorm.networks.public_checkpoints`
"""

__version__ = "0.1.0"
