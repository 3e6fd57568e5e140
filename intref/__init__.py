"""intref: a bit-exact, integer-only speech recognition engine and golden model."""

__version__ = "0.1.0"

from .graph import load  # noqa: E402  (after __version__, which the graph records in files it writes)

__all__ = ["__version__", "load"]
