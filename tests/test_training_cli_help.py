"""``python -m sam2_training --help`` lists the bundled run configs where a user looks."""

from __future__ import annotations

import subprocess
import sys


def test_help_lists_the_run_configs_in_the_configuration_groups_section():
    from sam2_training.config import builtin_train_configs

    out = subprocess.run(
        [sys.executable, "-m", "sam2_training", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    groups = out.split("== Configuration groups ==", 1)[1].split("== Config ==", 1)[0]
    names = builtin_train_configs()
    assert len(names) >= 2
    for name in names:
        assert name in groups, f"{name} is missing from:\n{groups}"
    assert "--config-name" in groups
