"""The norm factory (:mod:`stylenorm.nn.norm`), the norm kinds beside it, and the blocks built on it."""
