"""One Engine under load: threads, memory, reloads, and engines side by side.

* 4 threads x 25,000 evaluations on one Engine give exactly the sequential answers (durable's
  stock Host lost 0.2-1% of results to its timer threads; a shared session id gave 65-90%
  wrong ones), on both backends;
* 200,000 evaluations grow RSS by less than 5 MB; 1,000 reloads stay bounded too;
* a reload swaps the playbooks atomically (threads evaluating meanwhile see the old or the new
  answers, never a mix), and a reload that fails keeps serving the old playbooks;
* two engines over different directories answer side by side, each with its own playbooks.
"""

from __future__ import annotations

import gc
import json
import os
import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from cxplay import (
    CompileError,
    ConditionError,
    CxplayError,
    Engine,
    LoadError,
    PlaybookError,
    SchemaError,
)
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._playbooks.loader import load_playbooks

needs_durable = pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
BACKENDS = [pytest.param("durable", marks=needs_durable), "python"]

TYPES = ("parcel_damaged", "parcel_late", "queue_long", "speaker_late", "reply_overdue")
CHANNELS = ("email", "chat", "phone", "social_public", "sms")
FACTS = '[facts]\ndelay = "number"\nvip = "boolean"\nitem = "string"\ntags = "list"\n'

Answer = tuple[str, ...]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "incidents"


# --------------------------------------------------------------------------- fixtures


def playbook_text(seed: int, rules: int = 50, pid: str = "stress") -> str:
    """~50 rules over several incident types (one in ten type-independent), mixed tests."""
    rnd = random.Random(seed)
    parts = [f'[playbook]\nid = "{pid}"\nversion = "1.0.0"\n', FACTS]
    for i in range(rules):
        terms = [] if i % 10 == 0 else [f"type == '{TYPES[i % len(TYPES)]}'"]
        terms.append(
            rnd.choice(
                [
                    f"order.value >= {rnd.randint(0, 500)}",
                    f"order.value < {rnd.randint(0, 500)}",
                    "channel in ['email', 'chat']",
                    "channel != 'social_public'",
                    f"customer.tier == '{rnd.choice(['gold', 'silver'])}'",
                    "not (customer.tier in ['bronze', 'silver'])",
                ]
            )
        )
        terms.append(
            rnd.choice(
                [
                    f"facts.delay > {rnd.randint(0, 60)}",
                    f"(facts.delay <= {rnd.randint(0, 60)} or facts.vip)",
                    "facts.vip",
                    "not facts.vip",
                    "exists(facts.item)",
                    "facts.item not in ['a', 'b']",
                    "matches(customer.name, '^A')",
                    "exists(facts.tags)",
                ]
            )
        )
        priority = rnd.randint(0, 100)
        parts.append(
            f'\n[[rule]]\nid = "{pid}.r{i}"\nwhen = "{" and ".join(terms)}"\n'
            f'priority = {priority}\nactions = [{{ kind = "apology" }}]\n'
        )
    return "".join(parts)


def make_incidents(count: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    incidents: list[dict[str, Any]] = []
    for number in range(count):
        incident: dict[str, Any] = {"id": f"INC-{number}", "type": rnd.choice((*TYPES, "other"))}
        if rnd.random() < 0.8:
            incident["channel"] = rnd.choice(CHANNELS)
        if rnd.random() < 0.8:
            incident["order"] = {"value": rnd.choice([0, 5.5, 99, 100, 250, 499.99, 1000])}
        customer: dict[str, Any] = {}
        if rnd.random() < 0.6:
            customer["tier"] = rnd.choice(["gold", "silver", "bronze", "platinum"])
        if rnd.random() < 0.5:
            customer["name"] = rnd.choice(["Anna", "Bob", "Ala", "Oksana"])
        incident["customer"] = customer
        facts: dict[str, Any] = {}
        if rnd.random() < 0.7:
            facts["delay"] = rnd.randint(0, 90)
        if rnd.random() < 0.5:
            facts["vip"] = rnd.random() < 0.5
        if rnd.random() < 0.5:
            facts["item"] = rnd.choice(["a", "b", "c", "child_seat"])
        if rnd.random() < 0.2:
            facts["tags"] = ["x", "y"]
        incident["facts"] = facts
        incidents.append(incident)
    return incidents


def answer(engine: Engine, incident: dict[str, Any]) -> Answer:
    return tuple(m.rule for m in engine.evaluate(incident))


def answers(engine: Engine, incidents: Sequence[dict[str, Any]]) -> list[Answer]:
    return [answer(engine, i) for i in incidents]


def write_atomically(path: Path, text: str) -> None:
    """Replace a playbook so that a concurrent reload sees the old file or the new one."""
    temporary = path.with_name(path.name + ".tmp")  # not *.toml: the loader ignores it
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


MB = 1024 * 1024

TEXT_A = playbook_text(seed=1)
TEXT_B = playbook_text(seed=3)
INCIDENTS = make_incidents(400, seed=2)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two playbook directories, A and B, with different rules over the same fields."""
    found = {}
    for name, text in (("A", TEXT_A), ("B", TEXT_B)):
        directory = tmp_path_factory.mktemp(f"playbooks{name}")
        (directory / "stress.toml").write_text(text, encoding="utf-8")
        found[name] = directory
    return found


@pytest.fixture(scope="module")
def expected(dirs: dict[str, Path]) -> dict[str, list[Answer]]:
    """Sequential answers of the reference backend for A and B."""
    return {
        name: answers(Engine.from_path(directory, backend="python"), INCIDENTS)
        for name, directory in dirs.items()
    }


def test_the_workload_can_tell_right_from_wrong(expected: dict[str, list[Answer]]) -> None:
    """The answers vary enough that a lost, partial or swapped result would show."""
    a, b = expected["A"], expected["B"]
    assert sum(1 for x in a if not x) > 20  # some incidents match nothing...
    assert sum(1 for x in a if len(x) >= 3) > 20  # ...and many match several rules
    assert len(set(a)) > 100
    assert sum(1 for x, y in zip(a, b, strict=True) if x != y) > len(a) // 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequential_answers_agree_with_reference(
    dirs: dict[str, Path], expected: dict[str, list[Answer]], backend: str
) -> None:
    for name in ("A", "B"):
        assert answers(Engine.from_path(dirs[name], backend=backend), INCIDENTS) == expected[name]


# --------------------------------------------------------------------------- threads


def hammer(
    threads: int,
    work: Callable[[int, random.Random], None],
) -> list[BaseException]:
    """Run ``work(thread number, rng)`` in threads started together; collect exceptions."""
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            start.wait()
            work(number, random.Random(1000 + number))
        except BaseException as exc:  # reported by the test, not as a thread warning
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_4_threads_x_25000_evaluations(
    dirs: dict[str, Path], expected: dict[str, list[Answer]], backend: str
) -> None:
    engine = Engine.from_path(dirs["A"], backend=backend)
    sequential = answers(engine, INCIDENTS)
    assert sequential == expected["A"]
    lost = [0] * 4
    wrong = [0] * 4
    done = [0] * 4

    def work(number: int, rnd: random.Random) -> None:
        for _ in range(25_000):
            index = rnd.randrange(len(INCIDENTS))
            got = answer(engine, INCIDENTS[index])
            want = sequential[index]
            if got != want:
                if want and not got:
                    lost[number] += 1
                else:
                    wrong[number] += 1
            done[number] += 1

    errors = hammer(4, work)
    assert errors == []
    assert done == [25_000] * 4
    assert (sum(lost), sum(wrong)) == (0, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_suggest_like_sequential(dirs: dict[str, Path], backend: str) -> None:
    """The whole suggestion (decisions, ordering) is thread-safe too."""
    engine = Engine.from_path(dirs["A"], backend=backend)
    incidents = INCIDENTS[:100]
    sequential = [engine.suggest(i).model_dump(mode="json") for i in incidents]
    wrong = [0] * 4

    def work(number: int, rnd: random.Random) -> None:
        for _ in range(1_500):
            index = rnd.randrange(len(incidents))
            if engine.suggest(incidents[index]).model_dump(mode="json") != sequential[index]:
                wrong[number] += 1

    assert hammer(4, work) == []
    assert sum(wrong) == 0


# --------------------------------------------------------------------------- memory


@pytest.mark.slow
@needs_durable
def test_memory_flat_over_200000_evaluations(dirs: dict[str, Path]) -> None:
    engine = Engine.from_path(dirs["A"], backend="durable")
    # a few incident types nobody wrote rules for: they must not pile up either
    novel = [{**INCIDENTS[k % len(INCIDENTS)], "type": f"novel_{k}"} for k in range(500)]
    workload = INCIDENTS + novel
    for k in range(20_000):
        engine.evaluate(workload[k % len(workload)])
    gc.collect()
    before = rss()
    for k in range(200_000):
        engine.evaluate(workload[k % len(workload)])
    gc.collect()
    growth = rss() - before
    assert growth < 5 * MB, f"RSS grew by {growth / MB:.1f} MB over 200,000 evaluations"
    assert answers(engine, INCIDENTS) == answers(
        Engine.from_path(dirs["A"], backend="python"), INCIDENTS
    )


@pytest.mark.slow
@needs_durable
def test_1000_reloads_stay_bounded(
    tmp_path: Path, expected: dict[str, list[Answer]], dirs: dict[str, Path]
) -> None:
    """Every reload builds new rulesets; the old ones must be freed."""
    path = tmp_path / "stress.toml"
    path.write_text(TEXT_A, encoding="utf-8")
    engine = Engine.from_path(tmp_path, backend="durable")
    sample = range(0, len(INCIDENTS), 7)

    def reload_to(name: str) -> None:
        write_atomically(path, TEXT_A if name == "A" else TEXT_B)
        engine.reload()

    for k in range(100):  # warm-up
        reload_to("AB"[k % 2])
    gc.collect()
    before = rss()
    for k in range(1_000):
        name = "AB"[k % 2]
        reload_to(name)
        if k % 100 == 0:
            assert [answer(engine, INCIDENTS[i]) for i in sample] == [
                expected[name][i] for i in sample
            ]
    gc.collect()
    growth = rss() - before
    assert growth < 20 * MB, f"RSS grew by {growth / MB:.1f} MB over 1,000 reloads"
    # the last reload was B; the engine answers B completely
    assert answers(engine, INCIDENTS) == expected["B"]


@pytest.mark.slow
@needs_durable
def test_1000_builds_with_sessions_leave_no_memory_behind() -> None:
    """Each build evaluates in three threads (three sessions per ruleset), then is closed.

    Before sessions were deleted with their rulesets, this grew RSS by about 1.6 MB per
    build (durable's delete_ruleset keeps each session's pools): over a GB here.
    """
    playbooks = load_playbooks(None)
    incidents = [json.loads(p.read_text("utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]

    def build_evaluate_close() -> None:
        engine = Engine(playbooks, backend="durable")
        barrier = threading.Barrier(3)

        def work() -> None:
            barrier.wait()  # all three at once: each borrows its own session
            for incident in incidents:
                engine.evaluate(incident)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        engine.close()

    for _ in range(50):  # warm-up: allocator pools, caches
        build_evaluate_close()
    gc.collect()
    before = rss()
    for _ in range(1_000):
        build_evaluate_close()
    gc.collect()
    growth = rss() - before
    assert growth < 10 * MB, f"RSS grew by {growth / MB:.1f} MB over 1,000 builds"


@needs_durable
def test_close_after_sessions_that_matched_nothing() -> None:
    """A session that never fired a rule is primed, so deleting it cannot crash."""
    engine = Engine(load_playbooks(None), backend="durable")
    for kind in ("no_such_type", "parcel_damaged", "parcel_lost"):
        engine.evaluate({"type": kind, "channel": "email"})
    engine.close()
    engine.close()  # twice is harmless
    with pytest.raises(CxplayError, match="closed"):
        engine.evaluate({"type": "parcel_damaged"})


# --------------------------------------------------------------------------- reloads


@pytest.mark.parametrize("backend", BACKENDS)
def test_reload_serves_changed_files(
    tmp_path: Path, expected: dict[str, list[Answer]], backend: str
) -> None:
    path = tmp_path / "stress.toml"
    path.write_text(TEXT_A, encoding="utf-8")
    engine = Engine.from_path(tmp_path, backend=backend)
    assert answers(engine, INCIDENTS) == expected["A"]
    write_atomically(path, TEXT_B)
    assert answers(engine, INCIDENTS) == expected["A"]  # nothing changes before reload()
    engine.reload()
    assert answers(engine, INCIDENTS) == expected["B"]
    assert {r.id for r in engine.playbooks.rules} == {f"stress.r{i}" for i in range(50)}
    # a new file with one more rule, then its removal
    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[playbook]\nid = "extra"\nversion = "1.0.0"\n\n[[rule]]\nid = "extra.all"\n'
        "when = \"type == 'queue_long'\"\npriority = -1000\n"
        'actions = [{ kind = "apology" }]\n',
        encoding="utf-8",
    )
    engine.reload()
    for incident, want in zip(INCIDENTS, expected["B"], strict=True):
        more = ("extra.all",) if incident["type"] == "queue_long" else ()
        assert answer(engine, incident) == want + more
    extra.unlink()
    engine.reload()
    assert answers(engine, INCIDENTS) == expected["B"]


def _broken(kind: str, text: str) -> str:
    if kind == "toml":
        return text + '\n[[rule]\nid = "x"\n'
    if kind == "schema":
        return text.replace("priority = ", "priorty = ", 1)
    if kind == "condition":
        return text.replace('when = "', 'when = "order.vlaue > 1 and ', 1)
    if kind == "limits":
        wide = " or ".join(f"order.value > {i}" for i in range(65))
        return (
            text + f'\n[[rule]]\nid = "wide"\nwhen = "{wide}"\nactions = [{{ kind = "apology" }}]\n'
        )
    raise AssertionError(kind)


BREAKAGES = [
    pytest.param("toml", LoadError, id="broken-toml"),
    pytest.param("schema", SchemaError, id="unknown-key"),
    pytest.param("condition", ConditionError, id="unknown-field"),
    pytest.param("limits", CompileError, id="beyond-durable-limits"),
    pytest.param("deleted", LoadError, id="file-deleted"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("kind", "error"), BREAKAGES)
def test_failed_reload_keeps_serving_old_playbooks(
    tmp_path: Path,
    expected: dict[str, list[Answer]],
    backend: str,
    kind: str,
    error: type[PlaybookError],
) -> None:
    path = tmp_path / "stress.toml"
    path.write_text(TEXT_A, encoding="utf-8")
    engine = Engine.from_path(tmp_path, backend=backend)
    before = engine.playbooks
    if kind == "deleted":
        path.unlink()
    else:
        write_atomically(path, _broken(kind, TEXT_B))
    with pytest.raises(error) as info:
        engine.reload()
    assert "\n" not in str(info.value)
    assert engine.playbooks is before
    assert engine.backend == backend
    assert answers(engine, INCIDENTS) == expected["A"]
    # still serving after a second failure, and recovering once the files are fixed
    with pytest.raises(error):
        engine.reload()
    assert answers(engine, INCIDENTS[:50]) == expected["A"][:50]
    write_atomically(path, TEXT_B)
    engine.reload()
    assert answers(engine, INCIDENTS) == expected["B"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_reload_while_threads_evaluate(
    tmp_path: Path, expected: dict[str, list[Answer]], backend: str
) -> None:
    """Each answer is entirely the old playbooks' or entirely the new ones'."""
    path = tmp_path / "stress.toml"
    path.write_text(TEXT_A, encoding="utf-8")
    engine = Engine.from_path(tmp_path, backend=backend)
    a, b = expected["A"], expected["B"]
    stop = threading.Event()
    mixed = [0] * 3
    seen = {"A": [0] * 3, "B": [0] * 3}

    def work(number: int, rnd: random.Random) -> None:
        if number == 3:  # the reloader
            try:
                for k in range(30):
                    write_atomically(path, TEXT_B if k % 2 == 0 else TEXT_A)
                    engine.reload()
            finally:
                stop.set()
            return
        while not stop.is_set():
            index = rnd.randrange(len(INCIDENTS))
            got = answer(engine, INCIDENTS[index])
            if got == a[index] and got == b[index]:
                continue
            if got == a[index]:
                seen["A"][number] += 1
            elif got == b[index]:
                seen["B"][number] += 1
            else:
                mixed[number] += 1

    assert hammer(4, work) == []
    assert sum(mixed) == 0
    assert sum(seen["A"]) > 0 and sum(seen["B"]) > 0  # the swaps really happened meanwhile
    assert answers(engine, INCIDENTS) == expected["A"]  # the 30th reload wrote A


# --------------------------------------------------------------------------- two engines


@pytest.mark.parametrize(
    ("backend_a", "backend_b"),
    [
        pytest.param("durable", "durable", marks=needs_durable),
        pytest.param("durable", "python", marks=needs_durable),
        ("python", "python"),
    ],
)
def test_two_engines_over_different_directories(
    dirs: dict[str, Path],
    expected: dict[str, list[Answer]],
    backend_a: str,
    backend_b: str,
) -> None:
    engine_a = Engine.from_path(dirs["A"], backend=backend_a)
    engine_b = Engine.from_path(dirs["B"], backend=backend_b)
    wrong = [0] * 4

    def work(number: int, rnd: random.Random) -> None:
        for _ in range(2_000):
            index = rnd.randrange(len(INCIDENTS))
            name = rnd.choice("AB")
            engine = engine_a if name == "A" else engine_b
            if answer(engine, INCIDENTS[index]) != expected[name][index]:
                wrong[number] += 1

    assert hammer(4, work) == []
    assert sum(wrong) == 0
    # closing one leaves the other serving
    engine_a.close()
    assert answers(engine_b, INCIDENTS) == expected["B"]
    engine_b.close()


@needs_durable
def test_two_engines_over_the_same_directory_are_independent(dirs: dict[str, Path]) -> None:
    first = Engine.from_path(dirs["A"], backend="durable")
    second = Engine.from_path(dirs["A"], backend="durable")
    first.reload()
    first.close()
    assert answers(second, INCIDENTS[:50]) == answers(
        Engine.from_path(dirs["A"], backend="python"), INCIDENTS[:50]
    )
