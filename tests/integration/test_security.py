"""A broker with a SASL listener: PLAIN and SCRAM credentials work, wrong ones fail clearly,
and the password shows up in no log line and no metric."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.kafka import local_broker
from streams.logs import REDACTED
from streams.settings import load_settings
from tests.integration.conftest import READY, free_port

PASSWORD = "s3cret-'Pa\"55\\wörd-for-alice"
"""Each kind of quote, a backslash and a non-ASCII letter: the broker's configuration must
escape them, and a log may show them escaped."""
SPELLINGS = {
    PASSWORD,
    repr(PASSWORD)[1:-1],
    repr(PASSWORD.encode())[2:-1],
    json.dumps(PASSWORD)[1:-1],
    json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
}
"""The password as it is, in the repr of a str and of its UTF-8 bytes, and in JSON."""


@pytest.fixture(scope="module")
def sasl_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A second local broker with its own ports, home and a SASL_PLAINTEXT listener."""
    home = tmp_path_factory.mktemp("sasl-broker")
    sasl_port = free_port()
    broker_env = {
        **os.environ,
        "STREAMS_BROKER_HOME": str(home),
        "STREAMS_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "STREAMS_BROKER_CONTROLLER_PORT": str(free_port()),
        "STREAMS_BROKER_SASL_PORT": str(sasl_port),
        "STREAMS_BROKER_SASL_USERS": f"alice:{PASSWORD}",
        "STREAMS_PARTITIONS": "1",
    }
    settings = load_settings(broker_env)
    local_broker.start(settings)
    client_env = {
        **broker_env,
        "STREAMS_KAFKA_BOOTSTRAP": f"127.0.0.1:{sasl_port}",
        "STREAMS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "STREAMS_KAFKA_SASL_USERNAME": "alice",
        "STREAMS_KAFKA_SASL_PASSWORD": PASSWORD,
    }
    yield client_env
    local_broker.stop(settings)


def streams(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_right_credentials_produce_and_consume(
    sasl_env: dict[str, str], tmp_path: Path, mechanism: str
) -> None:
    env = {**sasl_env, "STREAMS_KAFKA_SASL_MECHANISM": mechanism}
    article = tmp_path / "article.json"
    article.write_bytes(orjson.dumps({"id": f"via-{mechanism}", "body": "Authenticated."}))
    assert streams(env, "produce", str(article)).returncode == 0
    read = streams(env, "consume", "--topic", "articles.raw", "--timeout", "3")
    assert read.returncode == 0, read.stderr
    assert f"via-{mechanism}" in read.stdout


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_wrong_credentials_fail_with_one_clear_line(
    sasl_env: dict[str, str], tmp_path: Path, mechanism: str
) -> None:
    env = {
        **sasl_env,
        "STREAMS_KAFKA_SASL_MECHANISM": mechanism,
        "STREAMS_KAFKA_SASL_PASSWORD": "not-the-password",
    }
    article = tmp_path / "article.json"
    article.write_bytes(b'{"body": "Should not get in."}')
    failed = streams(env, "produce", str(article))
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("streams: error:")
    assert "Authentication failed" in lines[0]
    assert "not-the-password" not in failed.stderr


def test_the_broker_home_is_private(sasl_env: dict[str, str]) -> None:
    home = Path(sasl_env["STREAMS_BROKER_HOME"])
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "server.properties").stat().st_mode) == 0o600
    assert not list(home.glob("*.args"))  # the arguments of the storage tool are gone


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_the_password_appears_in_no_log_and_no_metric(
    sasl_env: dict[str, str], tmp_path: Path, mechanism: str
) -> None:
    metrics_port = free_port()
    env = {
        **sasl_env,
        "STREAMS_KAFKA_SASL_MECHANISM": mechanism,
        "STREAMS_LOG_LEVEL": "DEBUG",
        "STREAMS_APP_ID": "streams-sasl",
        "STREAMS_DATA_DIR": str(tmp_path / "data"),
        "STREAMS_METRICS_PORT": str(metrics_port),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--stages", "validate"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while READY not in log.read_bytes():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
        article = tmp_path / "a.json"
        article.write_bytes(
            orjson.dumps({"id": f"secret-check-{mechanism}", "body": "Nothing to hide here."})
        )
        produced = streams(env, "produce", str(article))
        assert produced.returncode == 0, produced.stderr
        read = streams(env, "consume", "--topic", "articles.language", "--timeout", "5")
        assert f"secret-check-{mechanism}" in read.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            metrics = response.read().decode()
    finally:
        worker.terminate()
        worker.wait(60)
    text = log.read_text() + produced.stderr + read.stderr
    assert "SaslAuthenticateRequest" in text  # the DEBUG log did cover authentication
    if mechanism == "PLAIN":  # aiokafka logged the bytes that carry the password
        assert f"\\x00alice\\x00{REDACTED}" in text
    assert "streams_messages_total" in metrics
    assert [form for form in SPELLINGS if form in text or form in metrics] == []
