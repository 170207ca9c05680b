"""``python -m sam2_cli``: the ``napari-sam2`` command."""

import sys

from sam2_cli import main

sys.exit(main())
