"""Model architectures and importers; each family lives in its own subpackage (e.g. :mod:`intref.models.hama`)."""
