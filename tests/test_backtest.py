"""cxplay backtest: classification, exact reduction, sources, thresholds, the CLI as a user runs it.

Goldens are regenerated with ``CXPLAY_UPDATE_GOLDEN=1 pytest tests/test_backtest.py``.
The playbook change under test (``new_playbooks``): a damaged parcel is refunded from
150 zł instead of 100; a new rule refunds 30% (with approval) to parcels 10 days late; and
a lost parcel now requires a fact the old incidents do not carry.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pickle
import random
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import cxplay
from cxplay._backtest.compare import Options, Tally, Task, run_task
from cxplay._backtest.generate import LANGUAGES, TYPES, generate_incidents
from cxplay._backtest.report import report_from_tally
from cxplay._backtest.run import _pool_context
from cxplay._backtest.source import JsonlSource, RowsSource
from cxplay._cli import cli
from cxplay._conditions.parse import leaves
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay.models import CHANNELS
from tests.components import need

CASES = Path(__file__).parent / "cases" / "backtest"
GOLDEN = Path(__file__).parent / "golden" / "backtest"
SHIPPED = cxplay.shipped_playbooks_dir()
BACKENDS = ["python", *(["durable"] if DURABLE else [])]
DASK_INSTALLED = importlib.util.find_spec("distributed") is not None
PYARROW = importlib.util.find_spec("pyarrow") is not None

NEW_RULE = """
[[rule]]
id = "parcel.late.ten_days"
when = "type == 'parcel_late' and facts.delay_days >= 10 and channel != 'social_public'"
priority = 60
group = "compensation"
severity = "high"
reason = "Ten days late: part of the price back, confirmed by a supervisor"
actions = [{ kind = "refund", percent = 30, requires_approval = true, dimension = "functional", stage = "after_sales" }]
"""


def _patch(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def make_new_playbooks(root: Path) -> Path:
    """The shipped playbooks with the change under test, in ``root/new``."""
    new = root / "new"
    shutil.copytree(SHIPPED, new, ignore=shutil.ignore_patterns("replies"))
    parcel = new / "parcel.toml"
    text = parcel.read_text("utf-8")
    text = _patch(
        text, "order.policy_value >= 100 and channel", "order.policy_value >= 150 and channel"
    )
    # "probably lost" after 14 business days instead of 10; from 10 days a partial refund
    text = _patch(
        text,
        "facts.delay_days >= 10 and channel != 'social_public'\"\npriority = 65",
        "facts.delay_days >= 14 and channel != 'social_public'\"\npriority = 65",
    )
    text = _patch(
        text,
        "photos_attached = { type",
        'days_without_scan = { type = "integer", required_for = ["parcel_lost"] }\n'
        "photos_attached = { type",
    )
    text = _patch(
        text,
        "# --------------------------------------------------------------------------- scenarios",
        NEW_RULE,
    )
    text = text[: text.index("\n[[test]]")] + "\n"  # the old scenarios describe the old rules
    parcel.write_text(text, "utf-8")
    return new


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``new/``, ``old/`` (the shipped playbooks) and ``incidents.jsonl``."""
    root = tmp_path_factory.mktemp("backtest")
    make_new_playbooks(root)
    shutil.copytree(SHIPPED, root / "old", ignore=shutil.ignore_patterns("replies"))
    shutil.copy(CASES / "incidents.jsonl", root / "incidents.jsonl")
    return root


@pytest.fixture
def in_playground(playground: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(playground)
    return playground


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


BASE_ARGS = ("backtest", "--playbooks", "new", "--baseline", "old", "incidents.jsonl")


def _report(playground: Path, **kwargs: object) -> cxplay.BacktestReport:
    return cxplay.backtest(
        playground / "incidents.jsonl",
        playbooks=playground / "new",
        baseline=playground / "old",
        **kwargs,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- goldens


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("markdown", "md"), ("json", "json")])
def test_golden_report(in_playground: Path, fmt: str, suffix: str) -> None:
    code, out, err = run_cli(*BASE_ARGS, "--format", fmt, "--workers", "1")
    assert code == 0, err
    assert err == ""  # no progress bar without a terminal
    golden = GOLDEN / f"change.{suffix}"
    if os.environ.get("CXPLAY_UPDATE_GOLDEN") or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, "utf-8")
        if not os.environ.get("CXPLAY_UPDATE_GOLDEN"):
            pytest.fail(f"wrote missing golden file {golden.name}; review and commit it")
    assert out == golden.read_text("utf-8")


# --------------------------------------------------------------------------- classification


def _example(report: cxplay.BacktestReport, incident_id: str):
    for example in report.examples:
        if example.incident_id == incident_id:
            return example
    raise AssertionError(f"{incident_id} is not among the examples")


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_incident_lands_in_its_class(playground: Path, backend: str) -> None:
    report = _report(playground, workers=1, backend=backend, top=50)
    # 13 valid incidents + LATE-NO-DAYS (invalid under both sets: a required fact)
    assert report.incidents == 14
    assert report.malformed == 3
    assert [(m.position, m.message.split(":")[0]) for m in report.malformed_listed] == [
        (15, "invalid JSON at column 26"),
        (16, "an incident must be a JSON object, not list"),
        (17, "invalid incident"),
    ]
    # 120 and 149.99 zł lose the refund; 10 and 12 days late get 30% instead of a full refund
    # (not in public)
    assert {e.incident_id for e in report.examples if e.outcome == "changed"} == {
        "P-120",
        "P-149",
        "L-10",
        "L-12",
    }
    p120 = _example(report, "P-120")
    assert p120.compensation_delta == {"PLN": -120.0}
    assert set(p120.changes) == {"actions_added", "actions_removed", "compensation_changed"}
    why = {w.rule: w for w in p120.why}
    assert why["parcel.damaged.refund_or_replace"].baseline == "kept"
    assert why["parcel.damaged.refund_or_replace"].new == (
        "not matched: order.policy_value >= 150 (value 120.0)"
    )
    assert why["parcel.damaged.replace"].new == "kept"
    l12 = _example(report, "L-12")
    assert "approval_newly_required" in l12.changes
    assert l12.compensation_delta == {"PLN": 144.0 - 480.0}  # 30% of 480 zł, not all of it
    assert why_rules(l12) >= {"parcel.late.ten_days"}
    assert _example(report, "LOST-1").outcome == "error_now"
    assert report.classes["same"] == 8
    assert report.classes["changed"] == 4
    assert report.classes["error_now"] == 1
    assert report.classes["error_both"] == 1
    assert report.classes["approval_newly_required"] == 2
    (lost,) = [e for e in report.errors_new if "days_without_scan" in e.message]
    assert "needs fact 'days_without_scan'" in lost.message
    money = {m.currency: m for m in report.compensation}
    assert money["PLN"].delta == round(-120 - 149.99 + (90 - 300) + (144 - 480), 2)
    rules = {r.rule: r for r in report.by_rule}
    assert (rules["parcel.late.ten_days"].baseline, rules["parcel.late.ten_days"].gained) == (0, 2)
    assert report.by_type["parcel_damaged"] == {
        "incidents": 5,
        "same": 3,
        "changed": 2,
        "actions_added": 2,
        "actions_removed": 2,
        "compensation_changed": 2,
    }


def why_rules(example: object) -> set[str]:
    return {w.rule for w in example.why}  # type: ignore[attr-defined]


def test_identical_playbooks_change_nothing(playground: Path) -> None:
    report = cxplay.backtest(
        playground / "incidents.jsonl", playbooks=playground / "old", baseline=SHIPPED, workers=1
    )
    assert report.classes["same"] == 13 and report.classes["error_both"] == 1
    assert report.changed == 0 and report.examples == []
    assert all(m.delta == 0 for m in report.compensation)


# --------------------------------------------------------------------------- exact reduction


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generated") / "incidents.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for incident in generate_incidents(3_000, seed=11):
            out.write(json.dumps(incident, ensure_ascii=False) + "\n")
        out.write("{oops\n")
    return path


def test_one_two_and_four_workers_give_the_same_report(playground: Path, generated: Path) -> None:
    runner = cxplay.Backtest(playground / "new", baseline=playground / "old")
    one = runner.run(generated, workers=1)
    assert one.incidents == 3_000 and one.malformed == 1 and one.changed > 0
    assert runner.run(generated, workers=2, partition_size=250) == one
    assert runner.run(generated, workers=4, partition_size=97) == one


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_workers_are_forked_only_where_that_is_safe_and_report_alike(
    playground: Path, generated: Path
) -> None:
    runner = cxplay.Backtest(playground / "new", baseline=playground / "old")
    assert runner.baseline is not None
    recipes = [runner.new, runner.baseline]
    one = runner.run(generated, workers=1)
    # this test process may hold other threads (a server or a log writer another test left
    # running): fork only when it has none
    alone = threading.active_count() == 1
    assert _pool_context(recipes).get_start_method() == ("fork" if alone else "forkserver")
    # a process of one thread, as the CLI is: forked workers, the same report
    script = (
        "import sys, cxplay\n"
        "from cxplay._backtest.run import _pool_context\n"
        "new, old, source = sys.argv[1:]\n"
        "runner = cxplay.Backtest(new, baseline=old)\n"
        "assert _pool_context([runner.new, runner.baseline]).get_start_method() == 'fork'\n"
        "print(runner.run(source, workers=2, partition_size=500).model_dump_json())\n"
    )
    forked = subprocess.run(
        [sys.executable, "-c", script, playground / "new", playground / "old", generated],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert forked.returncode == 0, forked.stderr
    assert type(one).model_validate_json(forked.stdout) == one
    durable = cxplay.Recipe.from_paths(playground / "new", backend="durable")
    assert _pool_context([durable]).get_start_method() == "forkserver"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:  # another thread could hold a lock at the fork: the forkserver, and the same report
        assert _pool_context(recipes).get_start_method() == "forkserver"
        assert runner.run(generated, workers=2, partition_size=500) == one
    finally:
        stop.set()
        other.join()


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(list(range(8))))
def test_merging_tallies_in_any_order_gives_the_same_tally(order: list[int]) -> None:
    tallies = _partition_tallies()
    merged = Tally(top=10)
    for index in order:
        merged.merge(_copy(tallies[index]))
    reference = Tally(top=10)
    for tally in tallies:
        reference.merge(_copy(tally))
    assert merged == reference


def _copy(tally: Tally) -> Tally:
    return pickle.loads(pickle.dumps(tally))


_TALLIES: list[Tally] = []


def _partition_tallies() -> list[Tally]:
    if not _TALLIES:
        root = Path(os.environ.get("TMPDIR", "/tmp")) / f"cxplay-bt-{os.getpid()}"
        root.mkdir(exist_ok=True)
        new = make_new_playbooks(root) if not (root / "new").exists() else root / "new"
        recipe_new = cxplay.Recipe.from_paths(new)
        recipe_old = cxplay.Recipe.from_paths(SHIPPED)
        rows = list(generate_incidents(800, seed=5))
        random.Random(1).shuffle(rows)
        for partition in RowsSource(rows).partitions(100):
            _TALLIES.append(run_task(Task(recipe_new, recipe_old, partition, Options(top=10))))
        shutil.rmtree(root, ignore_errors=True)
    return _TALLIES


# --------------------------------------------------------------------------- sources


def test_parquet_gives_the_same_counts_as_jsonl(playground: Path, tmp_path: Path) -> None:
    need(PYARROW, "pyarrow: pip install 'cxplay[parquet]'")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(generate_incidents(500, seed=3))
    jsonl = tmp_path / "incidents.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    parquet = tmp_path / "incidents.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    runner = cxplay.Backtest(playground / "new", baseline=playground / "old")
    from_jsonl = runner.run(jsonl, workers=1)
    from_parquet = runner.run(parquet, workers=2, partition_size=64)
    assert from_parquet.unit == "row" and from_jsonl.unit == "line"
    keep = {"source", "unit"}
    assert from_parquet.model_dump(exclude=keep) == from_jsonl.model_dump(exclude=keep)


def test_an_unreadable_parquet_file_is_one_line(in_playground: Path) -> None:
    Path("broken.parquet").write_bytes(b"PAR1 this is not parquet at all")
    code, out, err = run_cli(
        "backtest", "--playbooks", "new", "--baseline", "old", "broken.parquet"
    )
    assert code == 1 and out == ""
    assert err.startswith("Error: broken.parquet: not a readable Parquet file: ")
    assert err.count("\n") == 1


def test_a_missing_source_is_one_line(in_playground: Path) -> None:
    code, _, err = run_cli("backtest", "--playbooks", "new", "--baseline", "old", "nope.jsonl")
    assert (code, err) == (1, "Error: nope.jsonl: no such incident file\n")


def test_strict_stops_at_the_first_malformed_line(in_playground: Path) -> None:
    code, out, err = run_cli(*BASE_ARGS, "--strict", "--workers", "1")
    assert code == 1 and out == ""
    assert err == ("Error: incidents.jsonl:15: invalid JSON at column 26: Expecting value\n")


def test_rows_that_are_not_mappings_are_counted_not_dropped(playground: Path) -> None:
    report = cxplay.backtest(
        [{"type": "queue_long", "facts": {"queue_minutes": 30}}, "nope", None],  # type: ignore[list-item]
        playbooks=playground / "new",
        baseline=playground / "old",
        workers=1,
    )
    assert (report.incidents, report.malformed) == (1, 2)
    assert [m.position for m in report.malformed_listed] == [2, 3]


def test_blank_lines_and_a_byte_order_mark_are_not_records(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"type": "queue_long"}\n\n  \n{"type": "parcel_lost"}\n')
    source = JsonlSource(path)
    assert source.total() == 2
    (partition,) = source.partitions(10)
    assert partition.count == 2 and partition.start == 1


# --------------------------------------------------------------------------- thresholds


def test_fail_on_gates_a_change(in_playground: Path) -> None:
    code, out, err = run_cli(
        *BASE_ARGS,
        "--format",
        "json",
        "--fail-on",
        "compensation_delta_pln<0",
        "--fail-on",
        "error_now>0",
    )
    assert code == 1
    assert json.loads(out)["incidents"] == 14  # the report is printed first
    assert err == (
        "Error: --fail-on compensation_delta_pln<0 (it is -815.99); --fail-on error_now>0 (it is 1)\n"
    )
    code, _, err = run_cli(
        *BASE_ARGS,
        "--format",
        "json",
        "--fail-on",
        "compensation_delta_pln>5000",
        "--fail-on",
        "changed_percent>=50",
        "--fail-on",
        "compensation_delta_eur!=0",
    )
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        (
            "compensation_delta_pln>>5",
            "Error: threshold 'compensation_delta_pln>>5': expected MEASURE OP NUMBER, "
            "e.g. compensation_delta_pln>5000 (OP: > >= < <= == !=)\n",
        ),
        (
            "chnged>3",
            "Error: threshold 'chnged>3': unknown measure 'chnged'; did you mean 'changed'?\n",
        ),
        (
            "changed > lots",
            "Error: threshold 'changed > lots': expected MEASURE OP NUMBER, "
            "e.g. compensation_delta_pln>5000 (OP: > >= < <= == !=)\n",
        ),
    ],
)
def test_a_bad_threshold_is_one_line_before_any_work(
    in_playground: Path, threshold: str, message: str
) -> None:
    code, out, err = run_cli(*BASE_ARGS, "--fail-on", threshold)
    assert (code, out, err) == (1, "", message)


@pytest.mark.parametrize(
    ("threshold", "meant"),
    [
        ("compensation_delta_pnl<-5000", "compensation_delta_pln"),  # letters swapped
        ("compensation_new_eru>0", "compensation_new_eur"),
        ("compensation_baseline_uah>=1", None),  # a real currency: no error
        ("compensation_delta_zl0<0", None),  # not three letters: no measure at all
        ("compensation_delta_pkn<0", "compensation_delta_pln"),  # one letter off
        ("compensation_new_uha>0", "compensation_new_uah"),
        ("compensation_delta_xxx!=0", ""),  # "no currency" is no currency one pays in
    ],
)
def test_a_misspelt_currency_in_a_threshold_is_an_error(
    in_playground: Path, threshold: str, meant: str | None
) -> None:
    """A currency that is no currency reads 0 forever: the gate could never fire."""
    code, out, err = run_cli(*BASE_ARGS, "--top", "0", "--fail-on", threshold)
    if meant is None:
        assert "unknown currency" not in err
        return
    code_shown = threshold.split("_")[2][:3].upper()
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: threshold '{threshold}': unknown currency '{code_shown}'")
    assert err.count("\n") == 1
    if meant:
        assert err.endswith(f"; did you mean '{meant}'?\n")
    with pytest.raises(cxplay.BacktestError, match="unknown currency"):
        _report(in_playground).breaches([threshold])


@pytest.mark.parametrize("top", [0, 1, 3, 50])
def test_top_keeps_that_many_examples(in_playground: Path, top: int) -> None:
    code, out, err = run_cli(*BASE_ARGS, "--format", "json", "--top", str(top))
    assert (code, err) == (0, "")
    report = json.loads(out)
    shown = report["classes"]["changed"] + report["classes"]["error_now"]
    assert shown > 0  # the change under test changes something
    assert len(report["examples"]) == min(top, shown)
    code, out, _ = run_cli(*BASE_ARGS, "--top", str(top))
    assert code == 0 and ("Most changed incidents" in out) == (top > 0)


def test_only_the_html_report_speaks_of_its_charts(in_playground: Path) -> None:
    for fmt in ("text", "markdown"):
        code, out, _ = run_cli(*BASE_ARGS, "--format", fmt)
        assert code == 0 and "chart" not in out.lower(), fmt
    code, out, _ = run_cli(*BASE_ARGS, "--format", "html")
    assert code == 0 and "The chart shows incidents gained minus lost." in out
    assert out.count("<svg") >= 2


def test_a_line_without_end_is_an_error_not_unbounded_memory(in_playground: Path) -> None:
    from cxplay._backtest.source import MAX_LINE_BYTES

    long = in_playground / "long.jsonl"
    fits = json.dumps({"type": "queue_long", "description": "x" * (MAX_LINE_BYTES - 60)})
    long.write_text(fits + "\n" + fits + "x" * 100 + "\n" + fits + "\n", "utf-8")
    code, out, err = run_cli("backtest", "--playbooks", "new", "--baseline", "old", "long.jsonl")
    assert (code, out) == (1, "")
    assert err == (
        "Error: long.jsonl: line 2 is longer than 1024 KiB "
        "(one incident per line, each at most 1 MiB)\n"
    )
    # the same for a file that never ends a line, under a memory limit the old reader broke
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from cxplay._cli import main\n"
        "sys.argv = ['cxplay', *sys.argv[1:]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *BASE_ARGS[:5], "--workers", "1", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "Error: /dev/zero: line 1 is longer than 1024 KiB "
        "(one incident per line, each at most 1 MiB)\n"
    )


def test_dask_pointed_at_a_port_that_never_answers_gives_up(
    in_playground: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need(DASK_INSTALLED, "dask.distributed is not installed (pip install 'cxplay[dask]')")
    from cxplay._backtest import run as backtest_run

    monkeypatch.setattr(backtest_run, "DASK_TIMEOUT", 1)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    held: list[socket.socket] = []

    def accept_and_say_nothing() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(server.accept()[0])

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    try:
        code, out, err = run_cli(*BASE_ARGS, "--dask", f"tcp://127.0.0.1:{port}")
    finally:
        server.close()
        for client in held:
            client.close()
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("Error: ")
    assert f"127.0.0.1:{port}" in err


def test_dask_pointed_at_an_http_port_is_one_line(in_playground: Path) -> None:
    need(DASK_INSTALLED, "dask.distributed is not installed (pip install 'cxplay[dask]')")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = server.accept()
                with client:
                    client.recv(65536)
                    client.sendall(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: 11\r\nConnection: close\r\n\r\nBad Request"
                    )

    threading.Thread(target=answer, daemon=True).start()
    try:
        code, out, err = run_cli(*BASE_ARGS, "--dask", f"tcp://127.0.0.1:{port}")
    finally:
        server.close()
    assert (code, out) == (1, "")
    assert err == (
        f"Error: tcp://127.0.0.1:{port} is not a Dask scheduler: what answered there does not "
        "speak Dask's protocol (a scheduler listens on tcp://HOST:8786 by default)\n"
    )


# --------------------------------------------------------------------------- the CLI


def test_usage_errors(in_playground: Path) -> None:
    code, _, err = run_cli("backtest", "--playbooks", "new", "incidents.jsonl")
    assert code == 2 and "--baseline DIR" in err
    code, _, err = run_cli("backtest", "--baseline", "old", "incidents.jsonl")
    assert code == 2 and "--playbooks DIR" in err
    code, _, err = run_cli("backtest", "--generate", "3", "incidents.jsonl")
    assert code == 2


def test_bad_new_playbooks_are_reported_with_their_file(in_playground: Path) -> None:
    broken = in_playground / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "x.toml").write_text(
        '[playbook]\nid = "x"\nversion = "1"\n[[rule]]\nid = "r"\nwhen = "tpye == 1"\nactions = [{kind = "apology"}]\n'
    )
    code, out, err = run_cli(
        "backtest", "--playbooks", "broken", "--baseline", "old", "incidents.jsonl"
    )
    assert code == 1 and out == ""
    assert err.startswith("Error: broken/x.toml:6: r: when: ") and "did you mean 'type'" in err


def test_html_is_one_self_contained_page(in_playground: Path) -> None:
    Path("hostile.jsonl").write_text(
        json.dumps(
            {"id": "<script>alert(1)</script>", "type": "parcel_damaged", "order": {"value": 120}}
        )
        + "\n"
    )
    code, out, err = run_cli(
        "backtest", "--playbooks", "new", "--baseline", "old", "hostile.jsonl", "--format", "html"
    )
    assert code == 0, err
    assert out.startswith("<!DOCTYPE html>") and "<svg" in out
    assert "<script" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    for remote in ("http://", "https://", "<link", "src=", "@import"):
        assert remote not in out


def test_progress_reports_every_record(playground: Path, generated: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    report = cxplay.backtest(
        generated,
        playbooks=playground / "new",
        baseline=playground / "old",
        workers=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (0, 3_001)
    assert sum(done for done, _ in seen) == report.incidents + report.malformed


# --------------------------------------------------------------------------- generator and recipe


def _shipped_types() -> set[str]:
    playbooks = cxplay.load_playbooks()
    types: set[str] = set()
    for rule in playbooks.rules:
        for leaf in leaves(rule.condition):
            if leaf.path == "type":
                values = getattr(leaf, "values", None) or (getattr(leaf, "value", None),)
                types.update(v for v in values if isinstance(v, str))
    return types


def test_the_generator_covers_every_type_channel_and_language() -> None:
    incidents = list(generate_incidents(len(TYPES) * len(CHANNELS) * len(LANGUAGES), seed=4))
    assert {i["type"] for i in incidents} == set(TYPES) == _shipped_types()
    assert {i["channel"] for i in incidents} == set(CHANNELS)
    assert {i["customer"]["language"][:2] for i in incidents} == set(LANGUAGES)
    combos = {(i["type"], i["channel"], i["customer"]["language"][:2]) for i in incidents}
    assert len(combos) == len(incidents)
    with cxplay.Engine.from_path(backend="python") as engine:
        for incident in generate_incidents(2_000, seed=4):
            assert engine.decide(incident).actions, incident  # valid, and something applies


def test_generate_is_deterministic_by_seed() -> None:
    first = run_cli("backtest", "--generate", "50", "--seed", "7")
    again = run_cli("backtest", "--generate", "50", "--seed", "7")
    other = run_cli("backtest", "--generate", "50", "--seed", "8")
    assert first == again and first[0] == 0
    assert first[1] != other[1]
    lines = first[1].splitlines()
    assert len(lines) == 50 and all(json.loads(line)["type"] in TYPES for line in lines)


def test_a_recipe_rebuilds_the_engine_from_bytes_alone(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    make_new_playbooks(tmp_path)
    shutil.copytree(tmp_path / "new", copy)
    recipe = pickle.loads(pickle.dumps(cxplay.Recipe.from_paths(copy)))
    shutil.rmtree(copy)  # a worker never reads the submitter's paths
    built = recipe.build()
    with cxplay.Engine.from_path(tmp_path / "new", backend=built.backend) as direct:  # type: ignore[arg-type]
        for incident in generate_incidents(300, seed=9):
            try:
                expected = direct.decide(incident).actions
            except cxplay.IncidentError as exc:
                with pytest.raises(cxplay.IncidentError, match=str(exc)[:40]):
                    built.decide(incident)
                continue
            assert built.decide(incident).actions == expected
    built.close()
    changed = cxplay.Recipe(recipe.label, recipe.roots[:0] + recipe.roots, recipe.backend)
    assert changed.digest == recipe.digest
    (is_dir, files) = recipe.roots[0]
    edited = ((files[0][0], files[0][1] + b"\n"), *files[1:])
    assert cxplay.Recipe(recipe.label, ((is_dir, edited),), recipe.backend).digest != recipe.digest


def test_the_library_is_public() -> None:
    for name in ("Backtest", "BacktestReport", "Recipe", "Threshold", "backtest", "BacktestError"):
        assert name in cxplay.__all__ and getattr(cxplay, name) is not None


def test_the_progress_bar_counts_to_the_total() -> None:
    from cxplay._cli_backtest import _progress_bar

    assert _progress_bar(False) == (None, None)
    threads = threading.active_count()
    update, bar = _progress_bar(True)
    assert update is not None
    try:
        update(0, 3_001)
        update(2_000, None)
        update(1_001, None)
        assert (bar.n, bar.total) == (3_001, 3_001)
        # no monitor thread of tqdm's: without one the pool may fork (see run.py)
        assert threading.active_count() == threads
    finally:
        bar.close()


# --------------------------------------------------------------------------- the log as a source


class _Logged:
    def __init__(self, number: int, incident: dict, decision: cxplay.Decision | None) -> None:
        self.id = f"D-{number}"
        self.incident = incident
        self.forgotten = decision is None
        self.actions = (
            [a.model_dump(mode="json") for a in decision.actions] if decision is not None else []
        )
        self.severity = decision.severity if decision is not None else "low"


class _FakeLog:
    """What the backtest reads of a DecisionLog: ``where`` and ``decisions(since, until)``."""

    where = "sqlite:///decisions.db"

    def __init__(self, rows: list[_Logged]) -> None:
        self.rows = rows
        self.asked: list[tuple[object, object]] = []

    def decisions(self, since=None, until=None):
        self.asked.append((since, until))
        return iter(self.rows)


def test_comparing_with_the_log_is_comparing_with_the_baseline_that_decided(
    playground: Path,
) -> None:
    from datetime import datetime, timezone

    incidents = list(generate_incidents(600, seed=17))
    with cxplay.Engine.from_path(playground / "old", backend="python") as old:
        rows = [_Logged(n, dict(i), old.decide(i)) for n, i in enumerate(incidents, 1)]
    rows.append(_Logged(601, {}, None))  # forgotten at the customer's request
    log = _FakeLog(rows)
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    source = cxplay.LogSource(log, since=since)
    report = cxplay.backtest(source, playbooks=playground / "new", baseline_log=True, workers=2)
    assert log.asked == [(since, None)]
    assert report.unit == "decision" and report.source.startswith("decision log sqlite:///")
    assert report.malformed == 1
    assert report.malformed_listed[0].message == "decision D-601 was forgotten (erased on request)"
    # the same incidents against the same playbooks evaluated now: the same classes
    evaluated = cxplay.backtest(
        [dict(i, id=f"D-{n}") for n, i in enumerate(incidents, 1)],
        playbooks=playground / "new",
        baseline=playground / "old",
        workers=1,
    )
    assert report.classes == evaluated.classes
    assert report.compensation == evaluated.compensation
    assert report.changed > 0
    example = report.examples[0]
    assert any(w.baseline in ("applied (logged)", "not applied (logged)") for w in example.why)


def test_logged_baseline_needs_a_log_and_has_no_replies(playground: Path) -> None:
    with pytest.raises(cxplay.BacktestError, match="no baseline"):
        cxplay.backtest(
            playground / "incidents.jsonl", playbooks=playground / "new", baseline_log=True
        )
    with pytest.raises(cxplay.BacktestError, match="the log keeps the actions"):
        cxplay.Backtest(playground / "new", baseline_log=True, replies=True)


EDGE_LINES = [
    b'{"type": "parcel_late", "order": {"value": 120}, "facts": {"delay_days": 3, "x": 1.0}}',
    b'{"type": "queue_long", "facts": {"queue_minutes": 25, "tags": ["a", 1, true, 2.5]}}',
    b'{"type": "parcel_damaged", "occurred_at": "2026-11-20T09:15:00+01:00", "order": {"value": 1e2}}',
    '{"type": "speaker_late", "customer": {"name": "Олена \\ud83d\\ude00"}}'.encode(),
    b'{"type": "parcel_lost", "customer": {"name": "lone \\ud800 surrogate"}}',
    b'{"type": "parcel_lost", "order": {"value": true}}',
    b'{"type": "parcel_lost", "order": {"value": NaN}}',
    b'{"type": "parcel_lost", "type": "queue_long"}',
    b'{"type": "parcel_lost", "facts": {"1bad": 1}}',
    b'{"type": "parcel_lost", "severity": "urgent"}',
    b'{"type": "parcel_lost"} trailing',
    b'\xff{"type": "parcel_lost"}',
    b'"just a string"',
]


def _slow(line: bytes) -> tuple[object, str | None]:
    from cxplay._backtest.source import parse_line
    from cxplay._engine.engine import coerce_incident

    try:
        return coerce_incident(parse_line(line)), None
    except (ValueError, cxplay.CxplayError) as exc:
        return None, str(exc)


def test_the_json_fast_path_reads_what_the_engine_reads() -> None:
    from cxplay._backtest.compare import _incident

    lines = [json.dumps(i, ensure_ascii=False).encode() for i in generate_incidents(800, seed=8)]
    lines += (CASES / "incidents.jsonl").read_bytes().splitlines() + EDGE_LINES
    for line in lines:
        if not line.strip():
            continue
        incident, _, problem = _incident(line)
        assert (incident, problem) == _slow(line), line


def test_replies_are_rendered_and_compared_when_asked(tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(SHIPPED, new)  # with replies/
    parcel = new / "parcel.toml"
    text = _patch(
        parcel.read_text("utf-8"),
        "order.policy_value >= 100 and channel",
        "order.policy_value >= 150 and channel",
    )
    parcel.write_text(text[: text.index("\n[[test]]")] + "\n", "utf-8")
    recipe = cxplay.Recipe.from_paths(new, replies=True)
    assert any(name.startswith("replies/") for name, _ in recipe.files())
    assert not any(n.startswith("replies/") for n, _ in cxplay.Recipe.from_paths(new).files())
    rows = [json.loads(line) for line in (CASES / "incidents.jsonl").read_text().splitlines()[:5]]
    with_replies = cxplay.backtest(rows, playbooks=new, baseline=SHIPPED, replies=True, workers=1)
    without = cxplay.backtest(rows, playbooks=new, baseline=SHIPPED, workers=1)
    # P-120 and P-149 lose the refund: their reply says so; the others read the same
    assert with_replies.classes["reply_changed"] == 2 == with_replies.changed
    assert without.classes["reply_changed"] == 0 and without.changed == 2
    assert with_replies.classes["same"] == without.classes["same"] == 3


LOG_ARGS = ("backtest", "--playbooks", "new", "--log", "decisions.db", "--baseline-log")


def test_the_decision_log_as_source_and_baseline(in_playground: Path) -> None:
    from cxplay import DecisionLog

    incidents = list(generate_incidents(300, seed=23))
    with DecisionLog.open(in_playground / "decisions.db") as log:
        with cxplay.Engine.from_path("old", backend="python", log=log) as engine:
            for incident in incidents:
                engine.suggest(incident)
        forgotten = incidents[0]["customer"]["id"]
        log.forget(forgotten)
    erased = sum(1 for i in incidents if i["customer"]["id"] == forgotten)
    kept = [i for i in incidents if i["customer"]["id"] != forgotten]
    Path("same.jsonl").write_text("".join(json.dumps(i) + "\n" for i in kept))

    code, out, err = run_cli(*LOG_ARGS, "--format", "json", "--workers", "2")
    assert code == 0, err
    logged = json.loads(out)
    assert logged["unit"] == "decision" and logged["baseline"].startswith("what was logged")
    assert logged["malformed"] == erased >= 1
    assert "was forgotten (erased on request)" in logged["malformed_listed"][0]["message"]
    code, out, err = run_cli(*BASE_ARGS[:-1], "same.jsonl", "--format", "json")
    assert code == 0, err
    evaluated = json.loads(out)
    # what was decided then is what the old playbooks decide now: the same comparison
    assert logged["classes"] == evaluated["classes"]
    assert logged["compensation"] == evaluated["compensation"]
    assert logged["classes"]["changed"] > 0

    # both sets evaluated on the log's incidents; a window with nothing in it
    code, out, _ = run_cli(
        "backtest",
        "--playbooks",
        "new",
        "--baseline",
        "old",
        "--log",
        "decisions.db",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["classes"] == evaluated["classes"]
    code, out, _ = run_cli(
        *LOG_ARGS,
        "--since",
        "2999-01-01",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["incidents"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--log", "x.db", "incidents.jsonl", "--baseline", "old"), "SOURCE or --log, not both"),
        (("incidents.jsonl", "--baseline-log"), "read the decision log: --log"),
        (("--log", "x.db"), "--baseline-log with --log"),
        (("--log", "x.db", "--baseline", "old", "--baseline-log"), "not both"),
    ],
)
def test_log_usage_errors(in_playground: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = run_cli("backtest", "--playbooks", "new", *args)
    assert code == 2 and message in err


def test_an_unusable_log_is_one_line(in_playground: Path) -> None:
    Path("not-a-db.db").write_text("this is not SQLite\n")
    code, out, err = run_cli(
        "backtest", "--playbooks", "new", "--log", "not-a-db.db", "--baseline-log"
    )
    assert code == 1 and out == "" and err.startswith("Error: ") and err.count("\n") == 1


def test_parquet_with_one_json_column_and_nulls(playground: Path, tmp_path: Path) -> None:
    need(PYARROW, "pyarrow: pip install 'cxplay[parquet]'")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        json.loads(line)
        for line in (CASES / "incidents.jsonl").read_text().splitlines()[:13]
        if line
    ]
    as_json = tmp_path / "json-column.parquet"
    pq.write_table(pa.table({"incident": [json.dumps(r) for r in rows]}), as_json)
    nested = tmp_path / "nested.parquet"
    # the struct type is inferred over every row (from_pylist would take the first row's
    # keys only); keys a row does not have come back as nulls, which are read as absent
    table = pa.Table.from_batches([pa.RecordBatch.from_struct_array(pa.array(rows))])
    pq.write_table(table, nested)
    runner = cxplay.Backtest(playground / "new", baseline=playground / "old")
    from_rows = runner.run(rows, workers=1)
    keep = {"source", "unit"}
    for path in (as_json, nested):
        report = runner.run(path, workers=1)
        assert report.unit == "row" and report.malformed == 0
        assert report.model_dump(exclude=keep) == from_rows.model_dump(exclude=keep)


def _side(*actions: tuple, severity: str = "low", error: str | None = None):
    from cxplay._backtest.compare import Side

    return Side(tuple(actions), (), severity, None, error)


APOLOGY = ("apology", {}, None, None, False)
REFUND_100 = ("refund", {"percent": 100.0}, 10_000, "PLN", False)
REFUND_100_APPROVED = ("refund", {"percent": 100.0}, 10_000, "PLN", True)
REFUND_CAPPED = ("refund", {"percent": 100.0, "capped_from": 200.0}, 15_000, "PLN", False)
VOUCHER_EUR = ("discount", {"amount": 10.0}, 1_000, "EUR", False)


@pytest.mark.parametrize(
    ("old", "new", "outcome", "changes"),
    [
        (_side(APOLOGY, REFUND_100), _side(APOLOGY, REFUND_100), "same", []),
        (
            _side(APOLOGY),
            _side(APOLOGY, REFUND_100),
            "changed",
            ["actions_added", "compensation_changed"],
        ),
        (
            _side(APOLOGY, REFUND_100),
            _side(APOLOGY),
            "changed",
            ["actions_removed", "compensation_changed"],
        ),
        (
            _side(APOLOGY, REFUND_100),
            _side(APOLOGY, REFUND_100_APPROVED),
            "changed",
            ["approval_newly_required"],
        ),
        (_side(REFUND_100_APPROVED), _side(REFUND_100), "changed", ["approval_no_longer_required"]),
        (_side(APOLOGY), _side(), "changed", ["actions_removed", "no_match_now"]),
        (_side(), _side(APOLOGY), "changed", ["actions_added", "matched_now"]),
        (_side(APOLOGY), _side(APOLOGY, severity="high"), "changed", ["severity_changed"]),
        (_side(APOLOGY, REFUND_100), _side(REFUND_100, APOLOGY), "changed", ["details_changed"]),
        # the same refund, capped differently: the money changed, the action did not
        (_side(REFUND_100), _side(REFUND_CAPPED), "changed", ["compensation_changed"]),
        (
            _side(REFUND_100),
            _side(REFUND_100, VOUCHER_EUR),
            "changed",
            ["actions_added", "compensation_changed"],
        ),
        (_side(APOLOGY), _side(error="invalid incident: x"), "error_now", []),
        (_side(error="invalid incident: x"), _side(APOLOGY), "error_fixed", []),
        (_side(error="a"), _side(error="b"), "error_both", []),
    ],
)
def test_classify(old: object, new: object, outcome: str, changes: list[str]) -> None:
    from cxplay._backtest.compare import classify

    assert classify(old, new)[:2] == (outcome, changes)  # type: ignore[arg-type]


def test_money_is_summed_exactly_per_currency() -> None:
    tally = Tally()
    incident = cxplay.Incident(type="parcel_damaged")
    for _ in range(3):
        raw = {"type": "parcel_damaged"}
        tally.add(1, incident, raw, _side(REFUND_100), _side(REFUND_CAPPED, VOUCHER_EUR))
    report = report_from_tally(tally, source="s", unit="line", baseline="b", new="n")
    money = {m.currency: (m.baseline, m.new, m.delta) for m in report.compensation}
    assert money == {"EUR": (0.0, 30.0, 30.0), "PLN": (300.0, 450.0, 150.0)}
