"""What a service serves is one snapshot, validated whole: nothing is read from disk later.

Reply catalogs used to be read per language on first use, so a refused reload still put
its Polish text live at the first Polish request, and a catalog deleted on disk turned the
first Ukrainian request into a 400 naming the server's paths.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from fastapi.testclient import TestClient

from cxplay._playbooks.loader import shipped_playbooks_dir
from cxplay._serve import ServeConfig, create_app
from cxplay._serve.common import public_text
from tests.test_serve import (
    MINI,
    TOKENS,
    late,
    mini_dir,
    wait_for,
    write_then_rename,
    write_until_seen,
)

ROOT = Path(__file__).resolve().parent.parent
INCIDENT = json.loads((ROOT / "examples" / "incidents" / "parcel_damaged.json").read_text("utf-8"))


def _incident(language: str) -> dict[str, Any]:
    return {**INCIDENT, "customer": {**INCIDENT.get("customer", {}), "language": language}}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    root = tmp_path / "playbooks"
    shutil.copytree(shipped_playbooks_dir(), root)
    config = ServeConfig(playbooks=(root,), auth=False, watch=False)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client, root


def _reply(client: TestClient, language: str) -> str:
    answer = client.post("/v1/suggest", json=_incident(language))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["reply"]["body"])


def _refuse_next_reload(root: Path) -> None:
    (root / "broken.toml").write_text("[playbook\n", encoding="utf-8")


@pytest.mark.parametrize("language", ["pl", "uk"])
def test_a_refused_reload_does_not_put_its_replies_live(
    served: tuple[TestClient, Path], language: str
) -> None:
    client, root = served
    _reply(client, "en")  # only English has been rendered so far
    before = {path: path.read_text("utf-8") for path in root.glob(f"replies/*.{language}.toml")}
    for path, text in before.items():  # every fragment of the language says something else
        path.write_text(text.replace('"""\n', '"""\nREFUSED TEXT. ', 1), encoding="utf-8")
    _refuse_next_reload(root)
    refused = client.post("/v1/reload")
    assert refused.status_code == 422
    assert str(root) not in refused.text
    body = _reply(client, language)
    assert "REFUSED TEXT" not in body
    for path, text in before.items():  # as it was: the same reply as before the change
        path.write_text(text, encoding="utf-8")
    (root / "broken.toml").unlink()
    assert client.post("/v1/reload").status_code == 200
    assert _reply(client, language) == body


@pytest.mark.parametrize("damage", ["deleted", "broken"])
def test_a_catalog_gone_on_disk_does_not_break_a_language_not_yet_served(
    served: tuple[TestClient, Path], tmp_path: Path, damage: str
) -> None:
    client, root = served
    expected = _reply(client, "pl")
    for path in root.glob("replies/*.uk.toml"):
        if damage == "deleted":
            path.unlink()
        else:
            path.write_text("[broken\n", encoding="utf-8")
    for language in ("uk", "pl"):
        answer = client.post("/v1/suggest", json=_incident(language))
        assert answer.status_code == 200, answer.text
        assert str(tmp_path) not in answer.text
    assert _reply(client, "pl") == expected
    refused = client.post("/v1/reload")
    assert refused.status_code == 422
    assert str(tmp_path) not in refused.text
    ready = client.get("/readyz")
    assert ready.json()["last_reload"]["errors"] and str(tmp_path) not in ready.text


@pytest.mark.parametrize(
    ("line", "public"),
    [
        ("/srv/cx/playbooks/replies/parcel.pl.toml:3: bad", "parcel.pl.toml:3: bad"),
        ("catalog '/home/ab/x.toml' is gone", "catalog 'x.toml' is gone"),
        ("see https://example.com/a/b/c", "see https://example.com/a/b/c"),
        ("replies/parcel.pl.toml:3: bad", "replies/parcel.pl.toml:3: bad"),
    ],
)
def test_no_server_path_in_an_answer(line: str, public: str) -> None:
    assert public_text(line) == public


# --------------------------------------------------------------------------- the watcher


def _mini(path: Path, days: int = 1) -> Path:
    path.mkdir()
    return mini_dir(path, days)


def _watching(api: TestClient) -> bool:
    return bool(api.get("/readyz").json()["watcher"] == "running")


def _reloads(api: TestClient) -> int:
    return int(api.get("/readyz").json()["last_reload"]["reloads"])


def test_the_watcher_is_rearmed_when_the_directory_is_replaced(tmp_path: Path) -> None:
    root = _mini(tmp_path / "playbooks")
    config = ServeConfig(playbooks=(root,), tokens_env=TOKENS, watch=True)
    with TestClient(create_app(config)) as api:
        wait_for(lambda: _watching(api))
        assert late(api, 3) == ["mini.late"]
        old = root.rename(tmp_path / "playbooks.old")  # moved away, and copied back changed
        shutil.copytree(old, root)
        write_then_rename(root / "mini.toml", MINI.format(days=4))
        wait_for(lambda: late(api, 3) == [])
        wait_for(lambda: _watching(api))
        # the new directory is the one watched now
        write_until_seen(
            lambda: write_then_rename(root / "mini.toml", MINI.format(days=2)),
            lambda: late(api, 3) == ["mini.late"],
        )


def test_a_switched_symlink_is_noticed_without_sighup(tmp_path: Path) -> None:
    first = _mini(tmp_path / "release-1")
    second = _mini(tmp_path / "release-2", days=4)
    current = tmp_path / "current"
    current.symlink_to(first)
    config = ServeConfig(playbooks=(current,), tokens_env=TOKENS, watch=True)
    with TestClient(create_app(config)) as api:
        wait_for(lambda: _watching(api))
        assert late(api, 3) == ["mini.late"]
        switch = tmp_path / "current.new"  # the atomic deploy: a new link renamed over the old
        switch.symlink_to(second)
        switch.replace(current)
        wait_for(lambda: late(api, 3) == [])
        wait_for(lambda: _watching(api))
        write_until_seen(  # and the files of the new release are the ones watched
            lambda: write_then_rename(second / "mini.toml", MINI.format(days=2)),
            lambda: late(api, 3) == ["mini.late"],
        )
        before = _reloads(api)
        write_then_rename(first / "mini.toml", MINI.format(days=9))  # the old release: ignored
        time.sleep(2.5)
        assert late(api, 3) == ["mini.late"] and _reloads(api) == before


def test_readyz_and_metrics_say_whether_the_watcher_runs(tmp_path: Path) -> None:
    root = _mini(tmp_path / "playbooks")
    off = ServeConfig(playbooks=(root,), tokens_env=TOKENS, watch=False)
    with TestClient(create_app(off)) as api:
        assert api.get("/readyz").json()["watcher"] == "off"
        assert "cxplay_watcher_running 0.0" in api.get("/metrics").text
    on = ServeConfig(playbooks=(root,), tokens_env=TOKENS, watch=True)
    with TestClient(create_app(on)) as api:
        wait_for(lambda: _watching(api))
        assert "cxplay_watcher_running 1.0" in api.get("/metrics").text
