"""Metrics logging to a CSV file and TensorBoard event files (main process only)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

COLUMNS = (
    "step",
    "epoch",
    "loss",
    "loss_mask",
    "loss_dice",
    "loss_iou",
    "loss_object",
    "loss_instance",
    "lr",
    "steps_per_second",
    "val_one_click_iou",
    "val_tracking_iou",
    "val_instance_f1",
    "val_score",
)


class MetricsLogger:
    """Append rows to ``metrics.csv`` and scalars to TensorBoard.

    Parameters
    ----------
    csv_path
        The CSV file (created with a header, or continued).
    tensorboard_dir
        Folder for ``torch.utils.tensorboard.SummaryWriter`` event files, or None.
    resume_step
        When continuing a run: rows and events after this step are dropped (they
        belong to the part of the run that was lost).
    """

    def __init__(
        self, csv_path: Path, tensorboard_dir: Path | None, resume_step: int | None = None
    ) -> None:
        self.csv_path = csv_path
        if resume_step is not None and csv_path.exists():
            self._truncate(resume_step)
        else:
            with csv_path.open("w", newline="") as handle:
                csv.writer(handle).writerow(COLUMNS)
        self._writer = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step is not None else None
            self._writer = SummaryWriter(str(tensorboard_dir), purge_step=purge)

    def _truncate(self, step: int) -> None:
        with self.csv_path.open(newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
        with self.csv_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def log(self, step: int, values: dict[str, Any]) -> None:
        """Write one row (missing columns stay empty) and the non-empty scalars."""
        row = {"step": step, **{k: v for k, v in values.items() if k in COLUMNS}}
        with self.csv_path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=COLUMNS).writerow(
                {k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS}
            )
        if self._writer is not None:
            for key, value in values.items():
                if key in ("step", "epoch") or value is None or not isinstance(value, (int, float)):
                    continue
                group = "val" if key.startswith("val_") else "train"
                self._writer.add_scalar(f"{group}/{key.removeprefix('val_')}", value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
