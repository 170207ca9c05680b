"""Fine-tuning SAM 2 from napari: layer pairs, settings, checks, the run and its progress.

* ``data``: Image + Labels layer pairs -> training arrays, with the training package's checks;
* ``presets``: :class:`FinetuneSettings` and the run config they start from;
* ``checks``: refusing bad settings before anything starts;
* ``worker``: the run in a worker thread, the model registered by name;
* ``progress_text``: curves and text for the widget;
* ``controller``: :class:`FinetuneController`, the Qt-free front of the widget.
"""
