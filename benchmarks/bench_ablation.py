"""Ablation of the bundled model's recipe: trunk and tasks, at the same CPU budget.

Each variant is the bundled run (``training/configs/microscopy_conv.yaml``, seed 2026,
the same generated data, validation split and validation code) with ONE change, trained
for the first 600 steps of the main run's schedule and validated at steps 300 and 600,
so that its validation rows compare directly with the main run's rows at 300 and 600
(``runs/microscopy_conv/metrics.csv``; steps 0-5,300 of that run used
``data.clip_stride=1``, which every variant uses too):

* ``hiera_prompt_maps``: the Hiera "micro" trunk (``sam2.1_hiera_micro``: the smallest
  Hiera base with the bundled model's neck, decoder and memory widths) with the prompt
  maps and the instance head of ``conv_micro``; everything else as the main run;
* ``no_instance``: conv, instance task off (``instance.weight=0``: no field tiles, the
  head is not trained; its validation F1 is then that of an untrained head);
* ``no_clips``: conv, training samples are single frames only (``data.clip_length=1``
  for the training set; the stacks' frames stay in it as still images, so no memory /
  tracking / z task is trained); the validation set is the main run's (3-frame clips);
* ``no_boxes``: conv, prompts are clicks only (``prompts.prob_box_input=0``);
* ``no_corrections``: conv, no corrective clicks (``prompts.num_correction_points=0``);
* ``baseline``: the main run's recipe itself (a check that this driver reproduces it).

The learning-rate schedule depends on ``trainer.max_steps`` (warm-up over 1 % of it,
then a cosine to ``final_lr_ratio`` at the end), so every variant keeps
``trainer.max_steps=12000`` and is stopped after step ``--stop`` (600) through
:func:`sam2_training.train`'s ``cancel`` hook, which still runs that step's validation.

Train a variant (one at a time, from the repository root, with the training code the
main run used)::

    PYTHONPATH=/work/train_copy/src OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python \\
        benchmarks/bench_ablation.py train hiera_prompt_maps --out /tmp/ha/hiera_prompt_maps

Write the table (``benchmarks/results/ablation.csv`` and ``.md``) from the runs'
``metrics.csv`` files and the main run's::

    .venv/bin/python benchmarks/bench_ablation.py table --runs /tmp/ha

Steps per second are the training log's (every 20 steps; validation excluded), on a
2-core CPU shared with the main run and other jobs: read them as rough ratios only.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

log = logging.getLogger("bench_ablation")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
MAIN_RUN = ROOT / "runs" / "microscopy_conv" / "metrics.csv"
CONFIG = "microscopy_conv"
CPU_FILE = "cpu_seconds.csv"  # per-step CPU time of a variant run
MAX_STEPS = 12000  # the main run's: keeps its learning-rate schedule
VAL_STEPS = (300, 600)
MEASURES = ("val_one_click_iou", "val_tracking_iou", "val_instance_f1", "val_score")
# the Hiera variant: sam2.1_hiera_micro with what conv_micro adds to the SAM 2 parts
HIERA_BASE = "sam2.1_hiera_micro"
CONV_EXTRAS = {
    "decoder": {"prompt_maps": True},
    "instance_head": {"enabled": True, "hidden": 32, "diameter": 24.0},
}


@dataclass(frozen=True)
class Variant:
    name: str
    label: str  # what changes against the main run
    overrides: tuple[str, ...] = ()
    hiera: bool = False  # model.base: the Hiera micro trunk with conv_micro's extras
    train_clip_length: int | None = None  # training samples' clip length (None: config's)


VARIANTS = {
    v.name: v
    for v in (
        Variant("baseline", "main recipe (conv_micro, all tasks)"),
        Variant("hiera_prompt_maps", "Hiera micro trunk (with prompt maps)", hiera=True),
        Variant("no_instance", "conv, no instance task", ("instance.weight=0",)),
        Variant("no_clips", "conv, no clips (still frames only)", train_clip_length=1),
        Variant("no_boxes", "conv, no box prompts", ("prompts.prob_box_input=0",)),
        Variant(
            "no_corrections", "conv, no corrective clicks", ("prompts.num_correction_points=0",)
        ),
    )
}


# --------------------------------------------------------------------------- training


def hiera_config(path: Path) -> Path:
    """Write the Hiera variant's model YAML (``sam2.1_hiera_micro`` + conv_micro's prompt
    maps and instance head) to ``path``."""
    import yaml

    import sam2_engine

    source = Path(sam2_engine.__file__).parent / "configs" / f"{HIERA_BASE}.yaml"
    node = yaml.safe_load(source.read_text())
    for section, values in CONV_EXTRAS.items():
        node.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(node, sort_keys=False))
    return path


def _clip_length_for_training(length: int) -> None:
    """Make the training set (not the validation set) use clips of ``length`` frames."""
    from sam2_training import loop

    build = loop.build_datasets

    def patched(training, data, *args, **kwargs):
        train_set, _ = build(training, replace(data, clip_length=length), *args, **kwargs)
        _, val_set = build(training, data, *args, **kwargs)
        return train_set, val_set

    loop.build_datasets = patched


def train_variant(variant: Variant, out: Path, stop: int) -> None:
    """Train ``variant`` into ``out`` for the first ``stop`` steps of the main schedule."""
    from sam2_training import load_train_config, train

    out.mkdir(parents=True, exist_ok=True)
    overrides = [
        f"output={out}",
        "data.clip_stride=1",
        f"trainer.max_steps={MAX_STEPS}",
        *variant.overrides,
    ]
    if variant.hiera:
        overrides.append(f"model.base={hiera_config(out.parent / f'{out.name}_model.yaml')}")
    if variant.train_clip_length is not None:
        _clip_length_for_training(variant.train_clip_length)
    cfg = load_train_config(CONFIG, overrides)
    state: dict = {"step": 0, "cpu": None, "skip": True}
    cpu_seconds: list[tuple[int, float]] = []  # (step, CPU seconds of that step)

    def progress(p) -> None:
        # CPU time of this process between two consecutive steps (data, forward, backward,
        # optimizer; the steps after a validation are left out): a step's cost that does
        # not depend on how many other jobs share the cores, unlike the wall-clock speed
        now = time.process_time()
        state["step"] = p.step
        if p.phase == "validate":
            state["skip"] = True
            if p.validation is not None:
                log.info("step %d validation: %s", p.step, p.validation.as_dict())
        elif p.phase == "train":
            if not state["skip"]:
                cpu_seconds.append((p.step, now - state["cpu"]))
            state["cpu"], state["skip"] = now, False
            if p.step % 20 == 0:
                recent = [c for _, c in cpu_seconds[-20:]]
                log.info(
                    "step %d loss %.4f %.3f steps/s, %.2f CPU s/step",
                    p.step,
                    p.loss,
                    p.steps_per_second,
                    statistics.median(recent) if recent else float("nan"),
                )

    log.info("%s: %s", variant.name, overrides)
    try:
        result = train(cfg, progress=progress, cancel=lambda: state["step"] >= stop)
        log.info("stopped after %d steps: %s", result.steps, result.validation)
    finally:
        with open(out / CPU_FILE, "w", newline="") as handle:
            handle.write("step,cpu_seconds\n")
            handle.writelines(f"{step},{sec:.4f}\n" for step, sec in cpu_seconds)


# --------------------------------------------------------------------------- table


def read_metrics(path: Path) -> list[dict[str, str]]:
    """Rows of a run's ``metrics.csv``."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def summarise(rows: list[dict[str, str]], steps=VAL_STEPS) -> dict[str, object]:
    """Validation measures at ``steps`` and the median training speed up to the last one.

    Returns a dict with ``<measure>@<step>`` (float, or None when that row is missing),
    ``steps_per_s`` (median of the logged speeds at steps <= max(steps)) and
    ``last_step`` (the last logged step).
    """
    found: dict[str, object] = {f"{m}@{s}": None for s in steps for m in MEASURES}
    speeds: list[float] = []
    last = 0
    for row in rows:
        step = int(row["step"])
        if step > max(steps):
            continue
        last = max(last, step)
        if row.get("val_one_click_iou"):
            if step in steps:
                for m in MEASURES:
                    found[f"{m}@{step}"] = float(row[m]) if row.get(m) else None
        elif row.get("steps_per_second"):
            speeds.append(float(row["steps_per_second"]))
    found["steps_per_s"] = statistics.median(speeds) if speeds else None
    found["last_step"] = last
    return found


def _fmt(value: object, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cpu_per_step(path: Path, last: int = max(VAL_STEPS)) -> float | None:
    """Median CPU seconds of a training step (steps <= ``last``) from a variant's
    ``cpu_seconds.csv``; None when the file is missing or empty."""
    if not path.exists():
        return None
    values = [float(r["cpu_seconds"]) for r in read_metrics(path) if int(r["step"]) <= last]
    return statistics.median(values) if values else None


def table_rows(
    runs: dict[str, Path], cpu: dict[str, float | None] | None = None
) -> list[dict[str, object]]:
    """One row per (run, validation step).

    ``runs`` maps a variant name (or ``main``) to its ``metrics.csv``; ``cpu`` maps the
    same names to the median CPU seconds of a step (``main``: the ``baseline`` variant's,
    which replays the main run); CPU costs are also given as ratios to the main run's.
    """
    cpu = cpu or {}
    summaries = {name: summarise(read_metrics(path)) for name, path in runs.items()}
    base_cpu = cpu.get("main")
    rows = []
    for name, s in summaries.items():
        label = "main run (conv_micro, all tasks)" if name == "main" else VARIANTS[name].label
        speed, cost = s["steps_per_s"], cpu.get(name)
        for step in VAL_STEPS:
            rows.append(
                {
                    "run": name,
                    "variant": label,
                    "step": step,
                    "one_click_iou": _fmt(s[f"val_one_click_iou@{step}"]),
                    "tracking_iou": _fmt(s[f"val_tracking_iou@{step}"]),
                    "instance_f1": _fmt(s[f"val_instance_f1@{step}"]),
                    "val_score": _fmt(s[f"val_score@{step}"]),
                    "steps_per_s": _fmt(speed),
                    "cpu_s_per_step": _fmt(cost, 2),
                    "cpu_vs_main": _fmt(cost / base_cpu if cost and base_cpu else None, 2),
                }
            )
    return rows


COLUMNS = [
    ("variant", "variant"),
    ("step", "step"),
    ("one_click_iou", "one-click IoU"),
    ("tracking_iou", "tracking IoU"),
    ("instance_f1", "instance F1"),
    ("val_score", "val score"),
    ("steps_per_s", "steps/s (wall, shared CPU)"),
    ("cpu_s_per_step", "CPU s / step"),
    ("cpu_vs_main", "CPU x main"),
]


def write_results(runs_dir: Path, main: Path, notes: list[str], out: Path = RESULTS) -> Path:
    """Write ``ablation.csv`` / ``.md`` from the main run and the variants in ``runs_dir``."""
    from harness import environment, write_table

    runs = {"main": main}
    cpu = {"main": cpu_per_step(runs_dir / "baseline" / CPU_FILE)}
    for name in VARIANTS:
        path = runs_dir / name / "metrics.csv"
        if name != "baseline" and path.exists():
            runs[name] = path
            cpu[name] = cpu_per_step(runs_dir / name / CPU_FILE)
    rows = table_rows(runs, cpu)
    env = environment({"config": CONFIG, "seed": 2026}, torch_threads=1)
    head = [
        "# Ablation of the bundled model's recipe (same CPU, same data, same schedule)",
        "",
        "Each variant changes one thing in the bundled run (`microscopy_conv`, seed 2026, "
        "`data.clip_stride=1`, `trainer.max_steps=12000` so the learning-rate schedule is "
        "the main run's, stopped after step 600); validation is the run's own held-out "
        "split (48 samples). Reproduce: `python benchmarks/bench_ablation.py train "
        "VARIANT --out /tmp/ha/VARIANT`, then `python benchmarks/bench_ablation.py table`.",
        "",
    ]
    return write_table(out, "ablation", rows, env, columns=COLUMNS, head=head, notes=notes)


NOTES = [
    "Steps/s: median of the training log (every 20 steps, validation excluded) over "
    "steps 1-600, one torch thread on a 2-core CPU shared with the main run and other "
    "jobs; the main run's rows at 300 and 600 ran under other load, so read speeds as "
    "rough ratios.",
    "`no_instance`: its instance F1 is that of an untrained head; the val score mixes "
    "the three measures, so compare the one-click and tracking columns.",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train one variant (stops after --stop steps)")
    tr.add_argument("variant", choices=sorted(VARIANTS))
    tr.add_argument("--out", type=Path, required=True)
    tr.add_argument("--stop", type=int, default=max(VAL_STEPS))
    tb = sub.add_parser("table", help="write benchmarks/results/ablation.*")
    tb.add_argument("--runs", type=Path, default=Path("/tmp/ha"))
    tb.add_argument("--main", type=Path, default=MAIN_RUN)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "train":
        if os.environ.get("OMP_NUM_THREADS") != "1":
            log.warning("OMP_NUM_THREADS is not 1: the main run trains with one thread")
        train_variant(VARIANTS[args.variant], args.out, args.stop)
    else:
        print(write_results(args.runs, args.main, NOTES))


if __name__ == "__main__":
    main()
