"""The local broker's configuration reads back every password as it is, and no password
reaches a command line or a file others can read."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streams.kafka import local_broker
from streams.kafka.local_broker import (
    BrokerPaths,
    format_storage,
    server_properties,
    write_private,
)
from streams.settings import load_settings

PASSWORD = "pa'ss\"w\\ö"
SETTINGS = load_settings(
    {"STREAMS_BROKER_SASL_PORT": "9094", "STREAMS_BROKER_SASL_USERS": f"alice:{PASSWORD}"}
)


def test_a_plain_password_is_escaped_for_jaas_inside_java_properties(tmp_path: Path) -> None:
    text = server_properties(SETTINGS, BrokerPaths(tmp_path))
    # JAAS escapes the " and the backslash; Properties doubles each backslash, escapes the ö.
    assert r"""required user_alice="pa'ss\\"w\\\\\u00f6";""" in text
    assert text.isascii()


def test_the_storage_tool_gets_its_arguments_from_a_private_file_deleted_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        argfile = Path(command[1].removeprefix("@"))
        seen.update(command=command, mode=argfile.stat().st_mode, text=argfile.read_text())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(local_broker.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(local_broker.subprocess, "run", run)
    format_storage(SETTINGS, BrokerPaths(tmp_path))
    assert seen["command"][0] == "/usr/bin/java" and len(seen["command"]) == 2
    assert stat.S_IMODE(seen["mode"]) == 0o600
    assert '"kafka.tools.StorageTool"' in seen["text"] and '"--cluster-id=' in seen["text"]
    assert seen["text"].count('"--add-scram"') == 2 and "saltedpassword=" in seen["text"]
    assert "pa'ss" not in seen["text"]  # the salted password, never the password
    assert list(tmp_path.iterdir()) == []


def test_a_private_file_replaces_a_readable_one_without_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]
