"""``python -m intref``: the same as the ``intref`` command."""

import sys

from .cli import main

sys.exit(main())
