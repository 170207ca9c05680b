"""``benchmarks.harness.write_table`` rewrites each committed results table byte for byte.

Each case parses a committed ``benchmarks/results/<name>.{csv,md}`` pair back into rows,
environment, head and notes, writes them again with the script's own column table, and
compares the bytes: the shared writer keeps every script's output format.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# (script, its column table, results name, CSV fields given explicitly)
CASES = [
    ("bench_instance_tiles", "COLUMNS", "instance_tiles", None),
    ("bench_embedding_cache", "COLUMNS", "embedding_cache", None),
    ("bench_click_latency", "COLUMNS", "click_latency", None),
    ("bench_click_latency", "BIG_COLUMNS", "click_latency_big", None),
    ("bench_big_plugin", "COLUMNS", "big_plugin", "FIELDS"),
    ("bench_tiled_tracking", "COLUMNS", "tiled_tracking", None),
]


def _script(name: str) -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parse(name: str) -> tuple[list[dict], dict, list[str], list[str]]:
    """Rows, environment, markdown head and notes of a committed results pair."""
    lines = (RESULTS / f"{name}.md").read_text().split("\n")
    table = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = lines.index("", table)
    env_at = next(i for i, line in enumerate(lines) if line.startswith("Environment: "))
    with open(RESULTS / f"{name}.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    env_line = lines[env_at].replace("Environment: ", ", ", 1)
    env_keys = [k for k in records[0] if f", {k} = " in env_line]
    env = {k: records[0][k] for k in env_keys}
    rows = [{k: v for k, v in r.items() if k not in env} for r in records]
    return rows, env, lines[:table], lines[end + 1 : env_at]


@pytest.mark.parametrize(("script", "columns", "name", "fields"), CASES)
def test_write_table_reproduces_committed_results(
    tmp_path: Path, script: str, columns: str, name: str, fields: str | None
) -> None:
    module = _script(script)
    from benchmarks.harness import write_table

    rows, env, head, notes = _parse(name)
    assert env, "the environment columns are found"
    write_table(
        tmp_path,
        name,
        rows,
        env,
        columns=getattr(module, columns),
        head=head,
        notes=notes,
        fields=None if fields is None else getattr(module, fields),
    )
    md = (tmp_path / f"{name}.md").read_bytes()
    assert md == (RESULTS / f"{name}.md").read_bytes()
    # the csv module ends rows with CRLF (as the scripts always did); instance_tiles.csv was
    # committed with LF endings, so rows are compared line by line
    written = (tmp_path / f"{name}.csv").read_bytes()
    assert written.endswith(b"\r\n")
    committed = (RESULTS / f"{name}.csv").read_bytes()
    assert written.splitlines() == committed.splitlines()


def test_environment_columns_keep_their_order() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.harness import environment, environment_line

    env = environment({"model": "m"}, torch_threads=3)
    assert list(env) == ["model", "cores", "torch_threads", "load_avg_1min"]
    assert env["torch_threads"] == 3
    assert list(environment(cores=False, torch_threads=1)) == ["torch_threads", "load_avg_1min"]
    assert environment_line({"a": 1, "b": "x y"}) == "Environment: a = 1, b = x y"
