"""intref: a bit-exact, integer-only speech recognition engine and golden model."""

__version__ = "0.1.0"
