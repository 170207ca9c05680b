"""Qt widgets of the plugin (thin views of the Qt-free controller).

``dock.Sam2Dock`` is the one dock of a viewer (**Plugins > SAM 2**): the shared setup
(``setup_panel``) above one tab per tool (``tools.TOOLS``: ``interactive``,
``automatic``, ``finetune``). Importing this package imports none of them, so reading
the manifest stays cheap.
"""
