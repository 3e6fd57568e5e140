"""Golden vectors: export a traced run per node, verify a device dump, check stored vectors on every backend.

See docs/VECTORS.md. ``export``, ``verify`` and ``check`` are the entry points; the CLI is ``intref vectors``.
"""

from .check import check
from .export import export
from .verify import verify

__all__ = ["check", "export", "verify"]
