"""The fine-tuning controller without Qt: layers to arrays, refusals, steps, real short runs."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.core.state import StackKind
from napari_sam2.features.finetuning import checks as finetuning
from napari_sam2.features.finetuning.controller import FinetuneController
from napari_sam2.features.finetuning.data import LayerPair, collect_arrays, pair_arrays
from napari_sam2.features.finetuning.presets import FinetuneSettings
from napari_sam2.features.finetuning.progress_text import format_progress
from tests.plugin.runners import ManualRunner

QUICK = {"trainer.tensorboard": False, "trainer.checkpoint_every": 0}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private model registry: the user's registered models stay untouched."""
    monkeypatch.setenv("SAM2_ENGINE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def layers(image, labels, **image_kwargs):
    from napari.layers import Image, Labels

    return Image(image, name="img", **image_kwargs), Labels(labels, name="lab")


def two_images():
    from sam2_synthetic import fluorescence_image

    return [fluorescence_image((96, 96), n_nuclei=5, seed=s) for s in (1, 2)]


def settings(tmp_path, **changes):
    values = {
        "base_model": "test_tiny",
        "image_size": None,
        "epochs": 2,
        "output_folder": tmp_path / "models",
        "name": "my_nuclei",
        "overrides": dict(QUICK),
    }
    return FinetuneSettings.for_device("cpu", **{**values, **changes})


@pytest.fixture
def make(tmp_path, messages):
    def make(pairs=(), runner=None, **changes):
        c = FinetuneController(
            runner=runner,
            notify_fn=lambda level, text: messages.append((level, text)),
            settings=settings(tmp_path, **changes),
        )
        for pair in pairs:
            c.add_pair(pair)
        return c

    return make


def ok_pairs():
    return [LayerPair(*layers(d.image, d.labels)) for d in two_images()]


# --------------------------------------------------------------------------- layers -> arrays


def test_2d_pair_and_guessed_axes():
    d = two_images()[0]
    image, labels = layers(d.image, d.labels)
    pair = LayerPair.guess(image, labels)
    assert (pair.stack_axis, pair.channel_axis) == (None, None)
    ((img, lab, name),) = pair_arrays(pair)
    assert np.shares_memory(img, d.image) and np.shares_memory(lab, d.labels), "no copies"
    assert img.shape == lab.shape == (96, 96) and "'img' + 'lab'" in name
    rgb, _ = layers(np.stack([d.image] * 3, axis=-1).astype(np.uint16), d.labels, rgb=True)
    ((img, lab, _),) = pair_arrays(LayerPair.guess(rgb, labels))
    assert img.shape == (96, 96, 3) and lab.shape == (96, 96)


def test_stacks_channels_and_split_axes(timelapse):
    movie, truth = timelapse.movie, timelapse.labels  # (6, 64, 64)
    # channels on axis 0, time on axis 1: channels go last, time first
    two = np.stack([movie, movie[:, ::-1]])
    image, labels = layers(two, truth)
    pair = LayerPair.guess(image, labels, StackKind.TIME)
    assert (pair.stack_axis, pair.channel_axis) == (1, 0)
    arrays = collect_arrays([pair])
    (img,) = arrays.images
    assert img.shape == (6, 64, 64, 2) and np.array_equal(img[..., 1], movie[:, ::-1])
    assert arrays.num_frames == [6] and arrays.channel_axis is None
    # a length-1 channel axis in the labels (as the SAM 2 widget makes them) is accepted
    image, labels = layers(np.stack([movie, movie], axis=1), truth[:, None])
    (stack,) = collect_arrays([LayerPair(image, labels, 0, channel_axis=1)]).stacks
    assert stack.num_frames == 6 and stack.has_channels
    # 3D + t trained along t (axis 1): every z (axis 0) becomes its own stack
    hyper = np.stack([movie, movie, movie])
    gt = np.stack([truth, truth, np.zeros_like(truth)])  # the last z holds no object
    image, labels = layers(hyper, gt)
    arrays = collect_arrays([LayerPair(image, labels, stack_axis=1, stack_kind=StackKind.TIME)])
    assert arrays.num_frames == [6, 6] and arrays.skipped == 1
    assert arrays.names[1].endswith("[axis 0=1]")
    # the same with lazy (zarr) labels: split without loading the whole array
    import zarr

    image, labels = layers(hyper, zarr.array(gt, chunks=(1, 1, 64, 64)))
    arrays = collect_arrays([LayerPair(image, labels, stack_axis=1)])
    assert arrays.num_frames == [6, 6] and not isinstance(arrays.labels[0], np.ndarray)
    assert np.array_equal(np.asarray(arrays.labels[1][3]), truth[3])
    # no stack axis: every plane is a 2D image; empty planes are left out
    truth2 = truth.copy()
    truth2[2] = 0
    image, labels = layers(movie, truth2)
    arrays = collect_arrays([LayerPair(image, labels, stack_axis=None)])
    assert arrays.num_frames == [1] * 5 and arrays.skipped == 1


def test_more_than_four_channels(timelapse):
    frame, truth = timelapse.movie[0], timelapse.labels[0]
    many = np.stack([frame] * 6, axis=-1)
    pair = LayerPair(*layers(many, truth), channel_axis=2)
    assert collect_arrays([pair]).channel_axis == -1
    grey = LayerPair(*layers(frame, truth))
    with pytest.raises(ValueError, match="more than 4 channels"):
        collect_arrays([pair, grey])


# --------------------------------------------------------------------------- refusals


def _no_pair(pairs, tmp_path):
    return [], {}


def _no_labels(pairs, tmp_path):
    return [LayerPair(pairs[0].image, None)], {}


def _mismatch(pairs, tmp_path):
    image, labels = layers(np.zeros((96, 96)), np.ones((80, 96), dtype=np.int32))
    return [image_pair(image, labels)], {}


def image_pair(image, labels):
    return LayerPair(image, labels)


def _empty_labels(pairs, tmp_path):
    image, labels = layers(np.zeros((96, 96)), np.zeros((96, 96), dtype=np.int32))
    return [pairs[0], image_pair(image, labels)], {}


def _folder_under_a_file(pairs, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    return pairs, {"output_folder": blocker / "models"}


def _unwritable(pairs, tmp_path):
    return pairs, {"_unwritable": True}


def _empty_name(pairs, tmp_path):
    return pairs, {"name": "  "}


def _builtin_name(pairs, tmp_path):
    return pairs, {"name": "sam2.1_hiera_tiny"}


def _bad_lr(pairs, tmp_path):
    return pairs, {"lr": 0.0}


def _unknown_base(pairs, tmp_path):
    return pairs, {"base_model": "no_such_model"}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (_no_pair, "add at least one pair"),
        (_no_labels, "has no Labels layer"),
        (_mismatch, "labels have shape (80, 96)"),
        (_empty_labels, "hold no object"),
        (_folder_under_a_file, "is a file, not a folder"),
        (_unwritable, "is not writable"),
        (_empty_name, "give the fine-tuned model a name"),
        (_builtin_name, "built-in model"),
        (_bad_lr, "learning rate must be a positive number"),
        (_unknown_base, "unknown base model"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(
    case, expected, make, messages, tmp_path, monkeypatch, cache
):
    pairs, changes = case(ok_pairs(), tmp_path)
    if changes.pop("_unwritable", False):  # root ignores permission bits: fake the probe
        monkeypatch.setattr(finetuning, "is_writable", lambda folder: False)
    runner = ManualRunner()
    c = make(pairs, runner=runner, **changes)
    assert c.start() is None
    assert runner.queue == [] and not c.is_running
    (warning,) = messages.of("warning")
    assert warning.startswith("Cannot start fine-tuning:") and expected in warning
    assert not (tmp_path / "models").exists(), "nothing was written"


def test_taken_name_needs_replace(make, messages, tmp_path, cache, tiny_model):
    from sam2_engine import register_model, save_checkpoint

    register_model("taken", save_checkpoint(tiny_model, tmp_path / "taken.pt"))
    runner = ManualRunner()
    c = make(ok_pairs(), runner=runner, name="taken")
    assert c.start() is None and "exists already" in messages.of("warning")[0]
    c.settings.replace = True
    assert c.start() is not None and runner.kinds() == ["finetune"]


def test_output_folder_is_judged_by_trying_to_write(tmp_path):
    assert finetuning.is_writable(tmp_path) and list(tmp_path.iterdir()) == []
    deeper = tmp_path / "new" / "deeper"
    assert finetuning.check_output_folder(deeper) == deeper
    assert not (tmp_path / "new").exists(), "checking creates nothing"
    assert not finetuning.is_writable(tmp_path / "missing")
    with pytest.raises(ValueError, match="output folder"):
        finetuning.check_output_folder(None)


# --------------------------------------------------------------------------- epochs -> steps


def test_epochs_become_steps_as_the_training_loop_counts_them(make, timelapse, cache):
    import sam2_training as st
    from sam2_training.data_setup import build_datasets
    from sam2_training.sampling import ResumableSampler

    image, labels = layers(timelapse.movie, timelapse.labels)
    planes = LayerPair(image, labels, stack_axis=None)  # 6 independent 2D images
    c = make([planes], epochs=3, overrides={**QUICK, "trainer.batch_size": 2})
    summary = c.summary()
    plan = c.plan()
    cfg = plan.config
    arrays = summary.arrays
    data = st.prepare_data(cfg.data, cfg.trainer.seed, arrays.images, arrays.labels)
    train_set, _ = build_datasets(data, cfg.data, cfg.prompts, 128, cfg.trainer.seed, 2)
    truth = ResumableSampler(train_set, 2, 1, 0, cfg.trainer.seed).steps_per_epoch
    assert summary.steps_per_epoch == truth == 2  # 5 training images (1 held out), batch 2
    assert plan.max_steps == 3 * truth and plan.config.trainer.val_every == truth
    c.settings.epochs = 100  # at most ~20 validations a run
    assert c.plan().config.trainer.val_every == 10
    assert "6 images" in summary.describe() and "validation" in summary.describe()


# --------------------------------------------------------------------------- real runs


def test_short_run_registers_a_buildable_model(make, messages, cache):
    import sam2_engine as se
    from napari_sam2.core.models import MODEL_LIST, available_models

    announced, finished, reports = [], [], []
    MODEL_LIST.changed.connect(announced.append)
    c = make(ok_pairs(), epochs=2)
    c.progressed.connect(reports.append)
    c.finished.connect(finished.append)
    try:
        c.start()
    finally:
        MODEL_LIST.changed.disconnect(announced.append)
    (outcome,) = finished
    assert outcome is c.outcome and not outcome.cancelled and outcome.steps == 2
    assert outcome.checkpoint.exists() and outcome.checkpoint.name == "my_nuclei.pt"
    assert announced == ["my_nuclei"] and "my_nuclei" in se.list_models()
    assert any(m.name == "my_nuclei" and m.kind == "local" for m in available_models())
    model = se.build_model("my_nuclei", device="cpu")
    assert model.image_size == 128
    assert c.curves.steps == [1, 2] and len(c.curves.loss) == 2
    assert c.curves.val_steps and c.curves.one_click[0] is not None  # one image held out
    assert [r.phase for r in reports][-1] == "done"
    assert "saved to" in messages.of("info")[0] and not messages.of("error")


def test_cancel_after_the_first_report_keeps_a_usable_model(make, messages, cache):
    import sam2_engine as se

    c = make(ok_pairs(), epochs=50, name="stopped")
    c.progressed.connect(lambda report: c.cancel())
    c.start()
    outcome = c.outcome
    assert outcome is not None and outcome.cancelled and outcome.steps == 1
    assert c.last.phase == "cancelled"
    se.build_model("stopped", device="cpu")  # registered and loadable
    assert "cancelled after 1 step;" in messages.of("info")[0]


def test_a_failed_registration_keeps_the_file_and_says_so(make, messages, cache, monkeypatch):
    import sam2_engine

    def refuse(name, path):
        raise OSError("read-only cache folder (simulated)")

    monkeypatch.setattr(sam2_engine, "register_model", refuse)
    c = make(ok_pairs(), epochs=1, name="unlisted")
    c.start()
    assert c.outcome.checkpoint.exists() and "read-only" in c.outcome.register_error
    (warning,) = messages.of("warning")
    assert "could not be registered" in warning and str(c.outcome.checkpoint) in warning


def test_worker_errors_become_notifications(make, messages, cache, monkeypatch):
    import sam2_training

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(sam2_training, "finetune", broken)
    finished = []
    c = make(ok_pairs())
    c.finished.connect(finished.append)
    c.start()
    assert finished == [None] and not c.is_running
    assert "out of memory (simulated)" in messages.of("error")[0]


def test_progress_text():
    from sam2_training.progress import TrainingProgress
    from sam2_training.validation import ValidationMetrics

    report = TrainingProgress(
        step=12,
        max_steps=30,
        epoch=3,
        loss=0.5,
        components=None,
        lr=1e-5,
        steps_per_second=2.0,
        validation=ValidationMetrics(0.71, 0.65, 4, 9),
        phase="validate",
    )
    text = format_progress(report, epochs=10)
    assert "step 12 / 30" in text and "epoch 4 / 10" in text and "2.00 steps/s" in text
    assert "about 9 s left" in text and "loss 0.5000" in text
    assert "one-click IoU 0.710, tracking IoU 0.650" in text


def test_announcing_a_model_drops_its_loaded_copies(cache):
    from napari_sam2.core.models import load_model, model_registered

    first = load_model("test_tiny", "cpu")
    assert load_model("test_tiny", "cpu") is first
    model_registered("test_tiny")  # e.g. retrained under the same name
    assert load_model("test_tiny", "cpu") is not first


def test_the_controller_imports_no_qt_and_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, napari_sam2.features.finetuning.controller; "
        "heavy = [m for m in ('qtpy', 'PyQt5', 'magicgui', 'torch') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_presets_take_what_the_base_model_recommends(tmp_path):
    import sam2_engine as se

    model = se.build_model("test_tiny", checkpoint=False)
    model.recommended = {
        "finetune": {"optim.lr": 3e-4, "trainer.freeze": [], "optim.encoder_lr": 1e-4}
    }
    path = str(se.save_checkpoint(model, tmp_path / "ours.pt"))
    ours = FinetuneSettings.for_device("cpu", path)
    plain = FinetuneSettings.for_device("cpu", "test_tiny")
    assert (ours.lr, ours.freeze) == (3e-4, ())
    assert (plain.lr, plain.freeze) == (5e-5, ("image_encoder",)), "the CPU preset"
    assert ours.image_size == plain.image_size, "not recommended: the device's preset"
    assert FinetuneSettings.for_device("cpu", path, lr=1e-5).lr == 1e-5, "the user's wins"


def test_the_tab_runs_what_the_model_recommends_under_the_users_settings(make, tmp_path):
    import sam2_engine as se

    model = se.build_model("test_tiny", checkpoint=False)
    model.recommended = {
        "finetune": {"optim.lr": 3e-4, "prompts.num_correction_points": 1, "trainer.batch_size": 2}
    }
    path = str(se.save_checkpoint(model, tmp_path / "ours.pt"))
    c = make(ok_pairs(), base_model=path, lr=1e-3)  # the user changed the learning rate
    cfg = c.config(collect_arrays(c.pairs))
    assert cfg.optim.lr == 1e-3, "the user's learning rate is the one that runs"
    assert cfg.prompts.num_correction_points == 1 and cfg.trainer.batch_size == 2
    plain = make(ok_pairs()).config(collect_arrays(ok_pairs()))
    assert plain.prompts.num_correction_points == 7, "a model recommending nothing: the preset"
