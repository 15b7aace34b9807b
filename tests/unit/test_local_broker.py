"""The local broker's configuration reads back every password as it is, and no password
reaches a file others can read."""

from __future__ import annotations

import stat
from pathlib import Path

from streams.kafka.local_broker import BrokerPaths, server_properties, write_private
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


def test_a_private_file_replaces_a_readable_one_without_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]
