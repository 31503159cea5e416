from __future__ import annotations

from pathlib import Path

from cxplay import load_playbooks
from cxplay._playbooks.journey import journey_map

PLAYBOOK = """
[playbook]
id = "j"
version = "1"

[[rule]]
id = "a"
when = "type == 'x'"
actions = [
  { kind = "apology", dimension = "relational", stage = "delivery" },
  { kind = "refund", percent = 10, dimension = "functional", stage = "after_sales" },
]

[[rule]]
id = "b"
when = "type == 'y'"
actions = [{ kind = "apology", dimension = "relational", stage = "delivery" }, { kind = "survey" }]
"""


def test_cells_gaps_and_untagged(tmp_path: Path) -> None:
    (tmp_path / "j.toml").write_text(PLAYBOOK, encoding="utf-8")
    result = journey_map(load_playbooks(tmp_path))
    assert result.rules("delivery", "relational") == ["a", "b"]
    assert result.rules("after_sales", "functional") == ["a"]
    assert result.untagged == ["b (actions[1]: survey)"]
    assert ("delivery", "relational") not in result.gaps
    assert ("usage", "sensory") in result.gaps
    assert len(result.gaps) == 6 * 5 - 2


def test_cli_map_text_and_markdown(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cxplay._cli import cli

    (tmp_path / "j.toml").write_text(PLAYBOOK, encoding="utf-8")
    runner = CliRunner()
    text = runner.invoke(cli, ["map", "--playbooks", str(tmp_path)], env={"NO_COLOR": "1"})
    assert text.exit_code == 0, text.output
    assert text.output.splitlines()[0].split() == ["sens", "rel", "cog", "beh", "func"]
    assert "delivery" in text.output and "2 of 30 moments covered" in text.output
    assert "untagged actions: b (actions[1]: survey)" in text.output
    md = runner.invoke(cli, ["map", "--playbooks", str(tmp_path), "--format", "markdown"])
    assert md.exit_code == 0
    assert "| delivery | **gap** | `a`, `b` | **gap** | **gap** | **gap** |" in md.output
