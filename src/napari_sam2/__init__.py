"""napari-sam2: SAM 2 in napari for scientific imaging.

Importing this package is cheap: it imports neither torch nor Qt. The widgets, the
controller and the console API load their heavy dependencies when first used.
"""

__version__ = "0.1.0"
