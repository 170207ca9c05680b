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

Measure what a step of each variant costs in CPU time, fairly (one process, the variants
in turns, so all run under the same load; a tenth of the data, read from the cache)::

    PYTHONPATH=/work/train_copy/src OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python \\
        benchmarks/bench_ablation.py timing baseline no_instance no_clips hiera_prompt_maps

Write the table (``benchmarks/results/ablation.csv`` and ``.md``) from the runs'
``metrics.csv`` files, the timing and the main run's metrics::

    .venv/bin/python benchmarks/bench_ablation.py table --runs /tmp/ha

Steps per second are the training log's (every 20 steps; validation excluded), on a
2-core CPU shared with the main run and other jobs: read them as rough ratios only; the
CPU seconds of a step (``timing``) are the cost.
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


def train_variant(variant: Variant, out: Path, stop: int, resume: bool = False) -> None:
    """Train ``variant`` into ``out`` for the first ``stop`` steps of the main schedule
    (``resume``: go on from the run's last checkpoint, every 100 steps)."""
    from sam2_training import train

    out.mkdir(parents=True, exist_ok=True)
    if variant.train_clip_length is not None:
        _clip_length_for_training(variant.train_clip_length)
    cfg, overrides = _variant_config(variant, out)
    if resume:
        cfg = replace(cfg, resume=True)
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


def _variant_config(variant: Variant, out: Path):
    """The variant's run config (the main run's with its change), output in ``out``."""
    from sam2_training import load_train_config

    overrides = [
        f"output={out}",
        "data.clip_stride=1",
        f"trainer.max_steps={MAX_STEPS}",
        *variant.overrides,
    ]
    if variant.hiera:
        overrides.append(f"model.base={hiera_config(out.parent / f'{out.name}_model.yaml')}")
    return load_train_config(CONFIG, overrides), overrides


def time_steps(names: list[str], out: Path, rounds: int, steps: int, every: int) -> Path:
    """CPU seconds of training steps of each variant, measured in ONE process, in turns
    (``steps`` steps of each variant, ``rounds`` times), so that every variant runs under
    the same load; the data are every ``every``-th generated item of the main run's
    cache (read only; same kinds in the same proportions), loaded once. Each variant
    trains its own model from step 0 on its own samples (the main run's, for the conv
    variants), after one warm-up step. Writes ``out/step_cpu.csv``."""
    from sam2_training import loop, synthetic_data
    from sam2_training.data_setup import prepare_data

    jobs = synthetic_data._jobs
    synthetic_data._jobs = lambda cfg: jobs(cfg)[::every]
    out.mkdir(parents=True, exist_ok=True)
    runs, batches = {}, {}
    data = None
    build = loop.build_datasets
    for name in names:
        variant = VARIANTS[name]
        cfg, _ = _variant_config(variant, out / name)
        if data is None:
            data = prepare_data(cfg.data, cfg.trainer.seed)
        if variant.train_clip_length is not None:
            _clip_length_for_training(variant.train_clip_length)
        try:
            run = loop._Run(cfg, data, None, None)
        finally:
            loop.build_datasets = build
        run.sampler.set_position(0, 0)
        runs[name], batches[name] = run, iter(run._loader(run.train_set))
    records = []

    def one(name: str) -> float:
        run = runs[name]
        start = time.process_time()
        run._train_step(next(batches[name]))
        run.step += 1
        return time.process_time() - start

    for name in names:
        one(name)  # warm-up
    for r in range(rounds):
        for name in names:
            for _ in range(steps):
                records.append((name, r, runs[name].step, one(name)))
            log.info(
                "round %d %s: %.2f CPU s/step",
                r,
                name,
                statistics.median([c for n, rr, _, c in records if n == name and rr == r]),
            )
    path = out / "step_cpu.csv"
    with open(path, "w", newline="") as handle:
        handle.write("variant,round,step,cpu_seconds\n")
        handle.writelines(f"{n},{r},{st},{c:.4f}\n" for n, r, st, c in records)
    return path


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


def timed_cpu(path: Path) -> dict[str, float]:
    """Median CPU seconds of a step per variant from :func:`time_steps`' ``step_cpu.csv``."""
    if not path.exists():
        return {}
    found: dict[str, list[float]] = {}
    for row in read_metrics(path):
        found.setdefault(row["variant"], []).append(float(row["cpu_seconds"]))
    return {name: statistics.median(values) for name, values in found.items()}


def table_rows(
    runs: dict[str, Path | None], cpu: dict[str, float | None] | None = None
) -> list[dict[str, object]]:
    """One row per (run, validation step).

    ``runs`` maps a variant name (or ``main``) to its ``metrics.csv`` (None: not trained,
    timed only: one row without measures); ``cpu`` maps the same names to the median CPU
    seconds of a step. CPU costs are also given as ratios to the main run's.
    """
    cpu = cpu or {}
    base_cpu = cpu.get("main")
    rows = []
    for name, path in runs.items():
        label = "main run (conv_micro, all tasks)" if name == "main" else VARIANTS[name].label
        s = summarise(read_metrics(path)) if path is not None else {}
        cost = cpu.get(name)
        for step in VAL_STEPS if path is not None else ("-",):
            rows.append(
                {
                    "run": name,
                    "variant": label,
                    "steps_run": s.get("last_step", 0),
                    "step": step,
                    "one_click_iou": _fmt(s.get(f"val_one_click_iou@{step}")),
                    "tracking_iou": _fmt(s.get(f"val_tracking_iou@{step}")),
                    "instance_f1": _fmt(s.get(f"val_instance_f1@{step}")),
                    "val_score": _fmt(s.get(f"val_score@{step}")),
                    "steps_per_s": _fmt(s.get("steps_per_s")),
                    "cpu_s_per_step": _fmt(cost, 2),
                    "cpu_vs_main": _fmt(cost / base_cpu if cost and base_cpu else None, 2),
                }
            )
    return rows


COLUMNS = [
    ("variant", "variant"),
    ("steps_run", "steps run"),
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

    runs: dict[str, Path | None] = {"main": main}
    # CPU per step: the in-turns measurement (timing/step_cpu.csv) where there is one,
    # else the variant run's own log (the main run: its replay, the baseline variant)
    timed = timed_cpu(runs_dir / "timing" / "step_cpu.csv")
    cpu = {"main": timed.get("baseline", cpu_per_step(runs_dir / "baseline" / CPU_FILE))}
    for name in VARIANTS:
        path = runs_dir / name / "metrics.csv"
        if name != "baseline" and (path.exists() or name in timed):
            runs[name] = path if path.exists() else None
            cpu[name] = timed.get(name, cpu_per_step(runs_dir / name / CPU_FILE))
    rows = table_rows(runs, cpu)
    env = environment({"config": CONFIG, "seed": 2026}, torch_threads=1)
    head = [
        "# Ablation of the bundled model's recipe (same CPU, same data, same schedule)",
        "",
        "Each variant changes one thing in the bundled run (`microscopy_conv`, seed 2026, "
        "the same generated data and held-out split, `data.clip_stride=1` as the main run's "
        "steps 0-5,300, `trainer.max_steps=12000` so the learning-rate schedule is the main "
        "run's) and is stopped after step 600 (or earlier: steps run); validation: 48 "
        "held-out samples, the main run's code. The driver replays the main run exactly "
        "(`baseline`: loss at step 20 equal to the last digit). Hiera variant: "
        "`sam2.1_hiera_micro` (trunk 3.00 M parameters, model 4.92 M) with conv_micro's "
        "prompt maps and instance head; conv_micro: trunk 1.90 M, model 3.81 M; the same "
        "neck, decoder and memory. Commands: `PYTHONPATH=/work/train_copy/src "
        "OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/bench_ablation.py train "
        "VARIANT --out /tmp/ha/VARIANT [--stop 300]`, then `... bench_ablation.py timing "
        "baseline no_instance no_clips hiera_prompt_maps` and `... bench_ablation.py table`.",
        "",
    ]
    return write_table(out, "ablation", rows, env, columns=COLUMNS, head=head, notes=notes)


NOTES = [
    "CPU s / step: `bench_ablation.py timing baseline no_instance no_clips "
    "hiera_prompt_maps` (one process, the variants in turns: 3 rounds of 4 steps each "
    "after a warm-up step, every 10th generated item, one thread; 2026-12-07 under a "
    "load of 4-8 on 2 cores). The main run's cost is its replay (`baseline`). "
    "`baseline`, `no_instance` and the Hiera variant train on the same samples step for "
    "step, so their per-step ratios pair up: no instance task 0.92 +- 0.05 of a step "
    "(-0.26 s), Hiera 1.21 +- 0.06 (+0.76 s); `no_clips` draws other (still) samples: "
    "0.49 of a step on average.",
    "Steps/s (wall): median of the training log over steps 1-600 (validation left out), "
    "on a CPU shared with the main run and other jobs (the Hiera run got 0.03-0.14 "
    "steps/s as the load changed): not a cost, see the CPU column.",
    "Steps run: every variant to step 600, most in two sittings (stopped at step 300 or "
    "380, then `bench_ablation.py train VARIANT --out DIR --resume --stop 600`, which "
    "goes on from the last checkpoint, every 100 steps; the Hiera run stopped at 380 "
    "resumed from 300).",
    "`no_instance`: its head is not trained, so its instance F1 (0) and val score do not "
    "compare; its one-click and tracking columns do.",
    "`no_boxes` and `no_corrections` were not in the timing run: their CPU s / step is the "
    "median process CPU time of their own training steps (one thread, a shared CPU), a "
    "rougher comparison.",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train one variant (stops after --stop steps)")
    tr.add_argument("variant", choices=sorted(VARIANTS))
    tr.add_argument("--out", type=Path, required=True)
    tr.add_argument("--stop", type=int, default=max(VAL_STEPS))
    tr.add_argument("--resume", action="store_true", help="go on from the last checkpoint")
    tm = sub.add_parser("timing", help="CPU s per step of variants, in turns, one process")
    tm.add_argument("variants", nargs="+", choices=sorted(VARIANTS))
    tm.add_argument("--out", type=Path, default=Path("/tmp/ha/timing"))
    tm.add_argument("--rounds", type=int, default=3)
    tm.add_argument("--steps", type=int, default=4)
    tm.add_argument("--every", type=int, default=10)
    tb = sub.add_parser("table", help="write benchmarks/results/ablation.*")
    tb.add_argument("--runs", type=Path, default=Path("/tmp/ha"))
    tb.add_argument("--main", type=Path, default=MAIN_RUN)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "train":
        if os.environ.get("OMP_NUM_THREADS") != "1":
            log.warning("OMP_NUM_THREADS is not 1: the main run trains with one thread")
        train_variant(VARIANTS[args.variant], args.out, args.stop, args.resume)
    elif args.command == "timing":
        print(time_steps(args.variants, args.out, args.rounds, args.steps, args.every))
    else:
        print(write_results(args.runs, args.main, NOTES))


if __name__ == "__main__":
    main()
