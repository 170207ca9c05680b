"""``benchmarks/bench_ablation.py``: reading runs' metrics into the ablation table."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = [
    "step",
    "epoch",
    "loss",
    "lr",
    "steps_per_second",
    "val_one_click_iou",
    "val_tracking_iou",
    "val_instance_f1",
    "val_score",
]


def _script() -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    path = ROOT / "benchmarks" / "bench_ablation.py"
    spec = importlib.util.spec_from_file_location("bench_ablation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ablation"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _metrics(path: Path, speeds: dict[int, float], vals: dict[int, tuple]) -> Path:
    """A metrics.csv like the training loop's: training rows, then validation rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for step in sorted(set(speeds) | set(vals)):
            if step in speeds:
                writer.writerow([step, 0, 1.0, 1e-3, speeds[step], "", "", "", ""])
            if step in vals:
                writer.writerow([step, 0, "", "", "", *vals[step]])
    return path


def test_summarise_reads_validation_rows_and_the_median_speed(tmp_path: Path) -> None:
    bench = _script()
    path = _metrics(
        tmp_path / "m.csv",
        {20: 0.2, 300: 0.4, 600: 0.3, 620: 9.0},
        {300: (0.4, 0.1, 0.0, 0.2), 600: (0.5, 0.4, 0.3, 0.4), 900: (0.9, 0.9, 0.9, 0.9)},
    )
    s = bench.summarise(bench.read_metrics(path))
    assert s["val_one_click_iou@300"] == pytest.approx(0.4)
    assert s["val_score@600"] == pytest.approx(0.4)
    assert s["steps_per_s"] == pytest.approx(0.3)  # steps after 600 are left out
    assert s["last_step"] == 600


def test_a_run_stopped_early_has_empty_cells(tmp_path: Path) -> None:
    bench = _script()
    path = _metrics(tmp_path / "m.csv", {20: 0.2, 300: 0.2, 320: 0.2}, {300: (0.4, 0.1, 0, 0.2)})
    rows = bench.table_rows({"no_clips": path})
    assert [r["step"] for r in rows] == [300, 600]
    assert rows[0]["one_click_iou"] == "0.400"
    assert rows[1]["one_click_iou"] == "-" and rows[1]["val_score"] == "-"


def test_write_results_compares_variants_with_the_main_run(tmp_path: Path) -> None:
    bench = _script()
    vals = {300: (0.46, 0.10, 0.0, 0.19), 600: (0.50, 0.46, 0.32, 0.43)}
    main = _metrics(tmp_path / "main" / "metrics.csv", {20: 0.3}, vals)
    runs = tmp_path / "runs"
    _metrics(runs / "no_instance" / "metrics.csv", {20: 0.4}, vals)
    (runs / "no_instance" / bench.CPU_FILE).write_text("step,cpu_seconds\n1,2.0\n2,3.0\n")
    (runs / "baseline").mkdir(parents=True)
    (runs / "baseline" / bench.CPU_FILE).write_text("step,cpu_seconds\n1,4.0\n2,4.0\n3,9.0\n")
    md = bench.write_results(runs, main, ["a note"], out=tmp_path / "out")
    with open(tmp_path / "out" / "ablation.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert [r["run"] for r in records] == ["main", "main", "no_instance", "no_instance"]
    assert records[0]["cpu_s_per_step"] == "4.00"
    assert records[2]["cpu_s_per_step"] == "2.50"
    assert records[2]["cpu_vs_main"] == "0.62"
    text = md.read_text()
    assert "a note" in text and "conv, no instance task" in text


def test_a_variant_only_timed_gets_one_row_with_its_cost(tmp_path: Path) -> None:
    bench = _script()
    main = _metrics(tmp_path / "main" / "metrics.csv", {20: 0.3}, {300: (0.4, 0.1, 0, 0.2)})
    timing = tmp_path / "runs" / "timing"
    timing.mkdir(parents=True)
    (timing / "step_cpu.csv").write_text(
        "variant,round,step,cpu_seconds\nbaseline,0,1,4.0\nno_clips,0,1,2.0\nno_clips,0,2,3.0\n"
    )
    bench.write_results(tmp_path / "runs", main, [], out=tmp_path / "out")
    with open(tmp_path / "out" / "ablation.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert [(r["run"], r["step"]) for r in records] == [
        ("main", "300"),
        ("main", "600"),
        ("no_clips", "-"),
    ]
    assert records[2]["cpu_s_per_step"] == "2.50" and records[2]["cpu_vs_main"] == "0.62"
    assert records[2]["one_click_iou"] == "-"
