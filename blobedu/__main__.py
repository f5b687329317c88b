"""``python -m blobedu``: the same as the ``blobedu`` command."""

import sys

from .cli import main

sys.exit(main())
