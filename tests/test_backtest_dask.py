"""cxplay backtest on dask.distributed: a LocalCluster of processes gives the local report.

The cluster is real (two worker processes, each rebuilding the engines from the recipes'
bytes); the source is a generated 20,000-incident file.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cxplay
from cxplay._backtest import run as backtest_run
from cxplay._backtest.generate import generate_incidents
from cxplay._cli import cli
from tests.components import need
from tests.test_backtest import SHIPPED, make_new_playbooks

DASK = importlib.util.find_spec("distributed") is not None


@pytest.fixture(scope="module")
def twenty_thousand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dask")
    path = root / "incidents.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for incident in generate_incidents(20_000, seed=2026):
            out.write(json.dumps(incident, ensure_ascii=False) + "\n")
    return path, make_new_playbooks(root)


@pytest.mark.slow
def test_a_local_cluster_of_processes_gives_the_same_report(
    twenty_thousand: tuple[Path, Path],
) -> None:
    need(DASK, "dask.distributed is not installed (pip install 'cxplay[dask]')")
    from distributed import Client, LocalCluster

    source, new = twenty_thousand
    runner = cxplay.Backtest(new, baseline=SHIPPED)
    local = runner.run(source, workers=1)
    assert local.incidents == 20_000 and local.changed > 0 and local.classes["error_now"] > 0
    with LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        with Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
        on_dask = runner.run(source, dask=address, partition_size=1_500)
    assert on_dask == local


def test_a_scheduler_that_is_not_there_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need(DASK, "dask.distributed is not installed (pip install 'cxplay[dask]')")
    monkeypatch.setattr(backtest_run, "DASK_TIMEOUT", 2)
    source = tmp_path / "in.jsonl"
    source.write_text('{"type": "queue_long", "facts": {"queue_minutes": 30}}\n')
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--playbooks",
            str(SHIPPED),
            "--baseline",
            str(SHIPPED),
            str(source),
            "--dask",
            "tcp://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: ")
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_dask_local_from_the_command_line(tmp_path: Path) -> None:
    need(DASK, "dask.distributed is not installed (pip install 'cxplay[dask]')")
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps(i) + "\n" for i in generate_incidents(400, seed=5)), "utf-8"
    )
    new = make_new_playbooks(tmp_path)
    args = ["backtest", "--playbooks", str(new), "--baseline", str(SHIPPED), str(source)]
    local = CliRunner().invoke(cli, [*args, "--format", "json", "--workers", "1"])
    on_dask = CliRunner().invoke(
        cli, [*args, "--format", "json", "--dask", "local", "--workers", "2"]
    )
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.stderr
    assert json.loads(on_dask.stdout) == json.loads(local.stdout)
