"""``python -m sam2_training key=value ...``: see :mod:`sam2_training.cli`."""

from sam2_training.cli import main

main()
