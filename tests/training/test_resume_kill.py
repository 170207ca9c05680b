"""Resume after a hard kill: SIGKILL a CLI run midway, resume it, compare the weights
with an uninterrupted run of the same seed."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

import sam2_engine
import sam2_training as st

from .conftest import python, subprocess_env

STEPS = 24


def _overrides(tiff_folder: Path, output: Path) -> list[str]:
    return [
        f"data.folder={tiff_folder}",
        "model.base=test_tiny",
        "model.checkpoint=random",
        f"trainer.max_steps={STEPS}",
        "trainer.batch_size=2",
        "trainer.checkpoint_every=3",
        "trainer.val_every=8",
        "trainer.log_every=1",
        "trainer.tensorboard=false",
        "data.clip_length=3",
        "prompts.num_correction_points=2",
        "optim.lr=1e-3",
        "optim.encoder_lr=1e-3",
        f"output={output}",
        "resume=true",
    ]


def _saved_step(state: Path) -> int:
    if not state.exists():
        return 0
    try:
        return int(torch.load(state, weights_only=True)["step"])
    except Exception:  # replaced while read: try again later
        return 0


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tiff_folder, tmp_path):
    out = tmp_path / "killed"
    cmd = [python(), "-m", "sam2_training", *_overrides(tiff_folder, out)]
    proc = subprocess.Popen(
        cmd, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path
    )
    deadline = time.monotonic() + 180
    try:
        while _saved_step(out / "training_state.pt") < 9:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:] if proc.stdout else ""
            assert time.monotonic() < deadline, "the run did not reach step 9 in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = _saved_step(out / "training_state.pt")
    assert 9 <= killed_at < STEPS

    resumed = subprocess.run(
        cmd, env=subprocess_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"step {STEPS}/{STEPS}" in resumed.stdout

    # the same run without interruption, in this process
    cfg = st.load_train_config("finetune", _overrides(tiff_folder, tmp_path / "straight"))
    reference = st.train(cfg)
    a = torch.load(reference.checkpoint, weights_only=True)["model"]
    b = torch.load(out / "last.pt", weights_only=True)["model"]
    torch.manual_seed(123)  # the seeded random initialisation of the runs
    start = sam2_engine.build_model("test_tiny", checkpoint=False).state_dict()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    assert max((a[k] - start[k]).abs().max().item() for k in a) > 1e-3  # weights did move
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    logged = [int(r.split(",")[0]) for r in rows if r.split(",")[2]]
    assert logged == list(range(1, STEPS + 1))  # the lost steps were logged again, once
