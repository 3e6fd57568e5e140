"""Committed quantisation recipes of the built-in models (package data, read by :mod:`intref.models.default`).

``<name>.json`` is the recipe ``intref quantize --save-recipe`` wrote; ``<name>.sha256`` is the sha256 of the model
file it builds from the published hama weights. To remake one (the calibration split of bench/accuracy.py: 8 of
the shared clips, evenly spaced in manifest order), from the repository root::

    intref quantize hama-1.7 --weights mixed --calib ../shared/data/speech/manifest.tsv \\
        --save-recipe intref/recipes/hama-1.7-mixed.json -o /tmp/m.intref

then record the sha256 of the model it builds: ``python -m intref.models.default hama-1.7``.
"""
