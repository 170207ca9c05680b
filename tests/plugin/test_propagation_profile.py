"""Propagation through z runs the engine's z profile (objects end where they end in z);
through time it runs the defaults, exactly as before."""

import numpy as np
import pytest
from napari.layers import Image, Labels

from sam2_engine.video.settings import Z_PROFILE, SessionSettings


def _propagated_settings(c, image, labels=None, **options) -> SessionSettings:
    """Set the image, commit one object on plane 2, propagate: the session's settings."""
    c.set_image(image, **options)
    if labels is not None:
        c.set_labels(labels)
    c.set_position((2, 0, 0))
    c.add_point((2, 24, 24))
    c.commit()
    assert c.propagate()
    return c.propagation._slot.session.settings


def _stack():
    from sam2_synthetic import nuclei_zstack

    return nuclei_zstack(n_planes=5, shape=(48, 48), n_nuclei=2, seed=0, radius=(8, 10)).image


def test_a_z_axis_propagates_with_the_z_profile(make_controller, present_model):
    c = make_controller(present_model)
    settings = _propagated_settings(c, Image(_stack()), stack_kind="z")
    assert c.propagation.axis() == "z"
    assert settings.end_on_jump == Z_PROFILE["end_on_jump"]
    for name, value in Z_PROFILE.items():
        assert getattr(settings, name) == value, name


def test_a_time_axis_propagates_exactly_as_before(make_controller, present_model):
    c = make_controller(present_model)
    settings = _propagated_settings(c, Image(_stack()), stack_kind="time")
    assert c.propagation.axis() == "time"
    assert not settings.ends_objects
    time_defaults = SessionSettings(windows=settings.windows, non_overlapping=True)
    assert settings.replace(embedding_cache=None) == time_defaults


def test_the_axis_label_z_chooses_the_z_profile(make_controller, present_model):
    c = make_controller(present_model)
    layer = Image(_stack(), axis_labels=("z", "y", "x"))
    assert _propagated_settings(c, layer).ends_objects  # stack_kind "auto": from the label
    c2 = make_controller(present_model)
    layer = Image(_stack(), axis_labels=("t", "y", "x"), name="cells")
    assert not _propagated_settings(c2, layer).ends_objects


def test_switching_the_kind_starts_a_session_with_the_other_profile(
    make_controller, present_model, messages
):
    c = make_controller(present_model)
    layer = Image(_stack())
    assert _propagated_settings(c, layer, stack_kind="z").ends_objects
    first = c.propagation._slot
    fresh = Labels(np.zeros(layer.data.shape, np.int32))
    assert not _propagated_settings(c, layer, fresh, stack_kind="time").ends_objects, messages
    assert c.propagation._slot is not first


@pytest.mark.parametrize(("kind", "axis"), [("z", "z"), ("time", "time")])
def test_the_console_api_propagates_a_z_stack_with_the_z_profile(
    present_model, monkeypatch, kind, axis
):
    import sam2_engine as se
    from napari_sam2 import api

    axes = []
    real = se.VideoPredictor

    def recording(model, **kwargs):
        axes.append(kwargs.get("axis", "time"))
        return real(model, **kwargs)

    monkeypatch.setattr(se, "VideoPredictor", recording)
    seeds = np.array([[2.0, 24.0, 24.0]])
    labels = api.propagate_from_points(
        _stack(), seeds, time_axis=0, kind=kind, direction="both", model=present_model
    )
    assert axes == [axis]
    assert np.asarray(labels.data)[2].any()
