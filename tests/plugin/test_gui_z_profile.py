"""The dock propagates a z axis with the engine's z profile and a time axis exactly as
before; the setup's "Track axis ... is" choice (guessed from the layer) decides."""

import numpy as np
import pytest

from sam2_engine.video.settings import Z_PROFILE
from tests.plugin.mouse import click
from tests.plugin.qt_events import open_dock, ready

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def _commit_and_propagate(qtbot, segment, c, point):
    click(segment.bridge.helper("prompts"), point)
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    c.commit()
    with qtbot.waitSignal(c.events.propagation_finished, timeout=30000):
        segment.propagate_btn.native.click()
    return c.propagation._slot.session.settings


def test_the_dock_uses_the_z_profile_for_a_z_axis_and_the_time_profile_for_t(
    make_napari_viewer, qtbot, present_model
):
    from sam2_synthetic import nuclei_zstack

    stack = nuclei_zstack(n_planes=5, shape=(48, 48), n_nuclei=2, seed=0, radius=(8, 10))
    viewer = make_napari_viewer()
    viewer.add_image(stack.image, name="nuclei", axis_labels=("z", "y", "x"))
    viewer.dims.current_step = (2, 0, 0)
    dock = open_dock(viewer)
    segment = dock.tool("segment")
    c = ready(qtbot, dock, present_model)
    assert dock.setup.stack_kind_combo.value == "z"  # from the axis label
    assert c.propagation.axis() == "z"
    settings = _commit_and_propagate(qtbot, segment, c, (2, 24, 24))
    for name, value in Z_PROFILE.items():
        assert getattr(settings, name) == value, name

    dock.setup.stack_kind_combo.value = "time"  # the user says it is a time-lapse
    qtbot.waitUntil(lambda: c.layout is not None and c.layout.stack_kind.value == "time")
    assert c.propagation.axis() == "time"
    c.labels_layer.data = np.zeros_like(np.asarray(c.labels_layer.data))
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=30000)
    settings = _commit_and_propagate(qtbot, segment, c, (2, 24, 24))
    assert not settings.ends_objects
