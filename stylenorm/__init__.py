"""stylenorm: train and compare image-to-image networks under different normalization layers (docs/modules.md)."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `stylenorm.stylize(...)` without importing the inference stack for every `import stylenorm`.
    if name == "stylize":
        from stylenorm.inference import stylize

        return stylize
    raise AttributeError(f"module 'stylenorm' has no attribute {name!r}")
