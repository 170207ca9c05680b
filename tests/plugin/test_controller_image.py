"""The Qt-free controller on 2D images: click, preview, commit, undo, policies, errors."""

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_sam2.core.state import OverlapPolicy, PlaneKey
from tests.plugin.helpers import centre_of
from tests.plugin.runners import ManualRunner


@pytest.fixture
def image_layer(nuclei_2d):
    return Image(nuclei_2d.image, name="nuclei")


def count_encodes(model, monkeypatch):
    calls = []
    original = model.encode_image

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "encode_image", spy)
    return calls


def test_click_preview_commit_undo(make_controller, tiny_model, image_layer, nuclei_2d):
    c = make_controller(tiny_model)
    c.set_image(image_layer)
    assert c.has_embedding(), "the embedding is computed as soon as image and model are set"
    row, col = centre_of(nuclei_2d.labels, 1)
    assert c.add_point((row, col))
    assert c.preview_is_current and c.preview.mask.shape == (96, 96)
    result = c.commit()
    labels = c.labels_layer
    assert result.obj_id == 1 and result.written == int(c_mask_sum(labels, 1))
    assert c.current.prompts.empty and c.preview is None, "the next object starts"
    assert labels.selected_label == 2
    labels.undo()
    assert not np.asarray(labels.data).any()
    labels.redo()
    assert (np.asarray(labels.data) == 1).sum() == result.written


def c_mask_sum(labels, obj_id):
    return (np.asarray(labels.data) == obj_id).sum()


def test_embedding_is_cached_per_plane(make_controller, tiny_model, monkeypatch, timelapse):
    calls = count_encodes(tiny_model, monkeypatch)
    c = make_controller(tiny_model)
    c.set_image(Image(timelapse.movie))
    assert len(calls) == 1
    for r, col in ((10, 10), (20, 30), (40, 40)):
        c.add_point((0, r, col))
    assert len(calls) == 1, "clicks decode only"
    c.set_position((3, 0, 0))
    assert len(calls) == 2
    c.set_position((0, 0, 0))
    c.add_point((0, 5, 5))
    assert len(calls) == 2, "revisiting a plane is instant"


def test_clicks_during_embedding_are_coalesced_and_commit_waits(
    make_controller, tiny_model, image_layer
):
    runner = ManualRunner()
    c = make_controller(runner=runner)
    c.set_model(tiny_model, "test_tiny")
    c.set_image(image_layer)
    assert runner.kinds() == ["embed"]
    c.add_point((20, 20))
    c.add_point((30, 30), positive=False)
    assert c.commit() is None, "nothing to write yet: the commit waits for the mask"
    assert runner.kinds() == ["embed"]
    runner.run_all()
    assert c.labels_layer is not None, "the pending commit happened when the preview arrived"
    assert c.current.prompts.empty


def test_click_outside_is_refused(make_controller, tiny_model, image_layer, messages):
    c = make_controller(tiny_model)
    c.set_image(image_layer)
    assert not c.add_point((200, 5))
    assert c.current.prompts.empty
    assert "outside the image" in messages.of("warning")[-1]


def test_no_image_gives_a_message(make_controller, tiny_model, messages):
    c = make_controller(tiny_model)
    assert not c.add_point((1, 1))
    assert "image layer" in messages.of("warning")[-1]
    assert c.commit() is None
    assert not c.propagate()


@pytest.mark.parametrize("policy", list(OverlapPolicy))
def test_commit_respects_overlap_policy(make_controller, tiny_model, image_layer, policy):
    c = make_controller(tiny_model, overlap=policy)
    c.set_image(image_layer)
    painted = np.zeros((96, 96), np.int32)
    painted[:, :48] = 9  # left half painted by hand
    labels = Labels(painted.copy())
    c.set_labels(labels)
    c.add_point((48, 47))
    mask = c.preview.mask
    assert mask[:, :48].any() and mask[:, 48:].any(), "the mask crosses the painted region"
    c.commit()
    out = np.asarray(labels.data)
    if policy is OverlapPolicy.OVERWRITE:
        assert (out[mask] == 10).all()
    else:
        assert (out[:, :48] == 9).all(), "nothing painted by hand is lost"
        assert (out[mask & (painted == 0)] == 10).all()


def test_click_on_a_labelled_object_corrects_it(make_controller, tiny_model, image_layer):
    c = make_controller(tiny_model, click_selects_object=True)
    c.set_image(image_layer)
    labels = Labels(np.zeros((96, 96), np.int32))
    labels.data[10:20, 10:20] = 4
    c.set_labels(labels)
    c.add_point((15, 15))
    assert c.current.obj_id == 4
    c.commit()
    out = np.asarray(labels.data)
    np.testing.assert_array_equal(out == 4, c_preview_like(out, 4))
    assert c.current.obj_id is None


def c_preview_like(out, obj_id):
    return out == obj_id


def test_box_and_negative_points(make_controller, tiny_model, image_layer):
    c = make_controller(tiny_model)
    c.set_image(image_layer)
    assert c.set_box((10, 10), (40, 50))
    assert c.current.prompts.box == (10.0, 10.0, 40.0, 50.0) and c.preview_is_current
    assert not c.set_box((300, 300), (400, 400)), "a box outside the image is refused"
    assert c.toggle_polarity() is True
    c.add_point((20, 20))
    assert c.current.prompts.points[-1].positive is False
    c.add_point((25, 25), positive=True)
    assert [p.positive for p in c.current.prompts.points] == [False, True]
    c.clear_prompts()
    assert c.current.prompts.empty and c.preview is None


def test_worker_error_is_notified_and_the_controller_recovers(
    make_controller, tiny_model, image_layer, messages, monkeypatch
):
    import sam2_engine as se

    broken = se.build_model("test_tiny")

    def boom(*args, **kwargs):
        raise RuntimeError("forward exploded")

    monkeypatch.setattr(broken, "encode_image", boom)
    c = make_controller(broken)
    c.set_image(image_layer)
    assert any("forward exploded" in m for m in messages.of("error"))
    assert not c.is_running()
    c.set_model(tiny_model, "test_tiny")
    c.add_point((30, 30))
    assert c.preview_is_current


def test_download_failure_is_shown(make_controller, messages, monkeypatch):
    from napari_sam2.core import models
    from sam2_engine.errors import DownloadError

    def fail(*args, **kwargs):
        raise DownloadError("could not download sam2.1_hiera_tiny.pt; put it in /cache/sam2_engine")

    monkeypatch.setattr(models, "load_model", fail)
    c = make_controller()
    c.load_model("sam2.1_hiera_tiny")
    assert c.model is None
    assert "/cache/sam2_engine" in messages.of("error")[-1]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros(10), "at least 2 axes"),
        (np.zeros((0, 8)), "empty"),
        (np.array([["a", "b"], ["c", "d"]]), "numbers"),
    ],
)
def test_bad_images_are_refused_clearly(make_controller, data, match):
    """Layers napari may hold but SAM 2 cannot use (stand-ins: napari refuses some itself)."""
    from types import SimpleNamespace

    c = make_controller()
    layer = SimpleNamespace(data=data, ndim=data.ndim, rgb=False, multiscale=False, name="bad")
    with pytest.raises(ValueError, match=match):
        c.set_image(layer)
    assert c.image_layer is None


def test_segment_everything_adds_fresh_ids_and_keeps_painted(
    make_controller, tiny_model, image_layer
):
    pytest.importorskip("sam2_engine.automatic.generator")
    from sam2_engine import MaskGeneratorSettings

    c = make_controller(tiny_model)
    c.set_image(image_layer)
    painted = np.zeros((96, 96), np.int32)
    painted[0:10, 0:10] = 5
    labels = Labels(painted.copy())
    c.set_labels(labels)
    settings = MaskGeneratorSettings(
        points_per_side=4, pred_iou_thresh=0, stability_score_thresh=0
    )
    assert c.segment_everything(settings)
    out = np.asarray(labels.data)
    assert (out[0:10, 0:10] == 5).all()
    new_ids = set(np.unique(out)) - {0, 5}
    assert new_ids and min(new_ids) > 5
    labels.undo()
    np.testing.assert_array_equal(np.asarray(labels.data), painted)
    assert c.plane == PlaneKey()


def test_prompts_on_a_plane_displaced_by_a_newer_request_still_get_a_preview(
    make_controller, tiny_model, timelapse
):
    runner = ManualRunner()
    c = make_controller(runner=runner)
    c.set_model(tiny_model, "test_tiny")
    c.set_image(Image(timelapse.movie))  # embeds frame 0
    c.set_position((1, 0, 0))
    c.add_point((1, 20, 20))  # needs frame 1: queued behind frame 0
    c.set_position((4, 0, 0))  # scrubbing on: frame 4 displaces frame 1 in the queue
    runner.run_all()
    assert c.preview_is_current and c.preview.plane == PlaneKey(1, ())


def test_one_model_loads_at_a_time_and_the_last_choice_wins(
    make_controller, monkeypatch, tiny_model, present_model
):
    from napari_sam2.core import models

    built = {"first": tiny_model, "second": present_model}
    monkeypatch.setattr(models, "load_model", lambda name, *a, **k: built[name])
    runner = ManualRunner()
    c = make_controller(runner=runner)
    assert c.load_model("first") is not None
    assert c.load_model("second") is None, "queued behind the running load"
    assert runner.kinds() == ["model"], "no second worker while the first one runs"
    runner.run_next()  # the first load returns, cancelled: its model is dropped
    assert c.model is None and runner.kinds() == ["model"]
    runner.run_next()
    assert c.model is present_model and c.model_name == "second"


def test_a_model_that_decodes_in_windows_keeps_its_predictor_as_the_embedding(
    make_controller, nuclei_2d
):
    import sam2_engine as se

    model = se.build_model("test_tiny", checkpoint=False)
    model.recommended = {"windows": {"object_fraction": 0.3}}
    c = make_controller(model)
    c.set_image(Image(nuclei_2d.image))
    cached = c.cache.get(c.ws.embeddings.key(c.plane))
    assert cached.features is None and cached.predictor.windowed
    c.add_point((40, 40))
    assert c.preview_is_current and c.preview.mask.shape == nuclei_2d.image.shape
    c.add_point((45, 45))
    assert c.preview_is_current, "a second click decodes with the same cached predictor"
    assert c.cache.get(c.ws.embeddings.key(c.plane)) is cached
    assert c.commit().written > 0
