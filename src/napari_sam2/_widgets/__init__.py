"""Qt dock widgets of the plugin (thin views of the Qt-free controller).

``Sam2Widget`` (interactive segmentation and tracking) and ``AutomaticWidget``
(segment everything) are opened from napari's Plugins menu; importing this package
imports neither, so reading the manifest stays cheap.
"""
