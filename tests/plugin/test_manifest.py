"""npe2 manifest: valid, widgets listed by napari, samples load, imports stay cheap."""

import subprocess
import sys

import numpy as np
import pytest
from npe2 import PluginManager, PluginManifest


def test_manifest_is_valid_and_found_by_npe2():
    manifest = PluginManifest.from_distribution("napari-sam2")
    assert manifest.name == "napari-sam2"
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-sam2"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_napari_lists_the_widgets_and_samples():
    from napari.plugins import _npe2

    PluginManager.instance().discover()
    widgets = dict(w for _, w in _npe2.widget_iterator())
    assert list(widgets["napari-sam2"]) == ["SAM 2"], "one dock holds every tool"
    samples = dict(_npe2.sample_iterator())["napari-sam2"]
    assert set(samples) == {"nuclei_2d", "nuclei_timelapse", "nuclei_zstack"}
    manifest = PluginManager.instance().get_manifest("napari-sam2")
    menu = [item.command for item in manifest.contributions.menus["napari/layers/segment"]]
    tools = ("segment", "automatic", "tracking", "finetune")
    assert menu == [f"napari-sam2.open_{t}" for t in tools]


@pytest.mark.parametrize(
    ("key", "ndim"), [("nuclei_2d", 2), ("nuclei_timelapse", 3), ("nuclei_zstack", 3)]
)
def test_sample_data_loads_with_ground_truth(key, ndim):
    from napari.plugins import _npe2

    PluginManager.instance().discover()
    opener, _ = _npe2.get_sample_data("napari-sam2", key)
    layers = opener()
    (image, _, kind_i), (labels, _, kind_l) = layers
    assert (kind_i, kind_l) == ("image", "labels")
    assert image.ndim == ndim and labels.shape == image.shape and labels.max() > 0
    assert np.issubdtype(labels.dtype, np.integer)
    from napari_sam2.sample_data import SAMPLE_KEY

    assert (SAMPLE_KEY in layers[0][1]["metadata"]) == (ndim > 2), "stacks start at frame 0"


def test_importing_the_plugin_is_cheap():
    code = (
        "import sys, napari_sam2, napari_sam2.api, napari_sam2.sample_data; "
        "heavy = [m for m in ('torch', 'qtpy', 'PyQt5', 'napari_sam2._widgets.dock') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
