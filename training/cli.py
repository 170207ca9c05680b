"""Command line: ``python -m sam2_training key=value ...`` or ``sam2-train key=value ...``.

Hydra composes the run config from ``sam2_training/configs`` (``finetune.yaml`` by
default, ``--config-name finetune_cpu`` for another one) and the ``key=value``
overrides, checks it against :class:`~sam2_training.config.TrainConfig` and runs
:func:`~sam2_training.loop.train`. Examples::

    python -m sam2_training data.folder=/data/nuclei model.base=test_tiny \\
        trainer.max_steps=100 output=/tmp/run
    python -m sam2_training --config-name finetune_cpu data.folder=/data/ctc \\
        model.checkpoint=/models/sam2.1_hiera_tiny.pt output=/tmp/run resume=true
    torchrun --nproc_per_node=4 -m sam2_training data.folder=/data trainer.batch_size=8

Progress is logged (not printed) every ``trainer.log_every`` steps. This is the only
module of the package that uses Hydra's global state: it owns its process.
"""

from __future__ import annotations

import logging
import os
import sys

from omegaconf import DictConfig, OmegaConf

from sam2_training.config import SCHEMA_NAME, TrainConfig, config_dir, config_from_container

log = logging.getLogger("sam2_training")


def _progress_logger(every: int):
    def report(p) -> None:
        if p.phase == "validate" and p.validation is not None:
            v = p.validation
            log.info(
                "step %d validation: one-click IoU %s, tracking IoU %s (%d samples)",
                p.step,
                _fmt(v.one_click_iou),
                _fmt(v.tracking_iou),
                v.num_samples,
            )
        elif p.phase in ("done", "cancelled"):
            log.info("%s after %d steps; weights: %s", p.phase, p.step, p.checkpoint)
        elif p.step % max(every, 1) == 0 or p.step == p.max_steps:
            log.info(
                "step %d/%d epoch %d loss %.4f lr %.3g %.2f steps/s",
                p.step,
                p.max_steps,
                p.epoch,
                p.loss,
                p.lr,
                p.steps_per_second,
            )

    return report


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def run_from_hydra(node: DictConfig) -> None:
    """Validate a Hydra-composed config and train (the body of the CLI)."""
    from sam2_training.loop import train

    container = OmegaConf.to_container(node, resolve=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    try:
        cfg = config_from_container(container)
        result = train(cfg, progress=_progress_logger(cfg.trainer.log_every))
    except (ValueError, TypeError) as err:  # bad data or settings: one clear line
        log.error("error: %s", err)
        raise SystemExit(2) from err
    if int(os.environ.get("RANK", "0")) == 0:
        log.info("checkpoint: %s", result.checkpoint)


def _help_config() -> dict[str, str]:
    """``--help`` of the command: Hydra's layout, with the bundled run configs listed in
    the configuration-groups section (they are whole configs, chosen with
    ``--config-name``, not groups of options)."""
    from sam2_training.config import builtin_train_configs

    names = "\n".join(
        f"  {name}{' (default)' if name == 'finetune' else ''}" for name in builtin_train_configs()
    )
    template = (
        "${hydra.help.header}\n"
        "== Configuration groups ==\n"
        "Run configs: choose one with --config-name NAME (default: finetune)\n"
        f"{names}\n"
        "$APP_CONFIG_GROUPS\n"
        "== Config ==\n"
        "Override anything in the config (foo.bar=value)\n\n"
        "$CONFIG\n"
        "${hydra.help.footer}"
    )
    return {
        "app_name": "sam2_training",
        "header": "sam2_training: fine-tune SAM 2 (python -m sam2_training key=value ...)\n",
        "footer": "Powered by Hydra; its own options: --hydra-help",
        "template": template,
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``sam2-train`` and ``python -m sam2_training``."""
    import hydra
    from hydra.core.config_store import ConfigStore

    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    if not any(a.startswith(("hydra/job_logging", "hydra.job_logging")) for a in sys.argv[1:]):
        sys.argv.append("hydra/job_logging=stdout")  # log to the console, write no log file
    store = ConfigStore.instance()
    store.store(name=SCHEMA_NAME, node=TrainConfig)
    if any(a in ("--help", "-h") for a in sys.argv[1:]):
        store.store(group="hydra/help", name="sam2_training", node=_help_config())
        sys.argv.append("hydra/help=sam2_training")
    # an absolute folder: the configs are package data, not an importable module
    decorated = hydra.main(
        config_path=str(config_dir()), config_name="finetune", version_base="1.3"
    )(run_from_hydra)
    decorated()


if __name__ == "__main__":  # pragma: no cover
    main()
