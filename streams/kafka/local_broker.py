"""The local single-node Kafka (KRaft): fetch its jars with Maven, format, start, stop.

Everything lives under `settings.broker_home`, outside the repository: `lib/` holds the
jars Maven copied, `data/` the log directories, `broker.log` what the JVM printed. The home
is private to its user (0700) and files holding a password are created 0600; no password
is ever on a command line, which every user can read in `ps`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from streams.errors import BrokerError
from streams.kafka.topics import ensure_topics
from streams.settings import Settings

log = logging.getLogger(__name__)

KAFKA_VERSION = "3.9.1"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True, slots=True)
class BrokerPaths:
    """Where the local broker keeps its jars, storage, configuration and process id."""

    home: Path

    @property
    def lib(self) -> Path:
        return self.home / "lib" / KAFKA_VERSION

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.home / "log4j.properties"

    @property
    def log(self) -> Path:
        return self.home / "broker.log"

    @property
    def pid(self) -> Path:
        return self.home / "broker.pid"


def is_local(settings: Settings) -> bool:
    """True when the bootstrap address is one the local broker can serve."""
    host = settings.kafka_bootstrap.split(",")[0].rsplit(":", 1)[0]
    return host in LOCAL_HOSTS


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def running_pid(paths: BrokerPaths) -> int | None:
    """The pid of our broker if its process is alive, else None (a stale file is removed)."""
    try:
        pid = int(paths.pid.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        paths.pid.unlink(missing_ok=True)
        return None
    except PermissionError:
        return None
    return pid


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise BrokerError(f"`{tool}` is not on PATH; install it to run the local Kafka broker")
    return found


def fetch_jars(paths: BrokerPaths) -> None:
    """Copy the broker's runtime classpath from Maven Central once; later starts reuse it."""
    done = paths.lib / ".complete"
    if done.exists():
        return
    mvn = _require("mvn")
    paths.lib.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("streams.kafka") / "pom.xml") as pom:
        log.info("fetching Kafka %s jars into %s", KAFKA_VERSION, paths.lib)
        result = subprocess.run(
            [
                mvn,
                "--batch-mode",
                "--quiet",
                "-f",
                str(pom),
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
                f"-DoutputDirectory={paths.lib}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise BrokerError(f"mvn could not fetch the Kafka jars: {last[0]}")
    done.touch()


def server_properties(settings: Settings, paths: BrokerPaths) -> str:
    """A single-node KRaft configuration that lets exactly-once work on one replica."""
    port, controller = settings.local_broker_port, settings.broker_controller_port
    listeners = {"PLAINTEXT": port, "CONTROLLER": controller}
    if settings.broker_sasl_port:
        listeners["SASL_PLAINTEXT"] = settings.broker_sasl_port
    advertised = {name: number for name, number in listeners.items() if name != "CONTROLLER"}
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller}",
        "listeners=" + ",".join(f"{n}://127.0.0.1:{p}" for n, p in listeners.items()),
        "advertised.listeners=" + ",".join(f"{n}://127.0.0.1:{p}" for n, p in advertised.items()),
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
        "SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL",
        f"log.dirs={paths.data}",
        f"num.partitions={settings.partitions}",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=10",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=10",
        "group.initial.rebalance.delay.ms=0",
        "group.min.session.timeout.ms=1000",
        f"message.max.bytes={settings.max_message_bytes + 65536}",
        f"replica.fetch.max.bytes={settings.max_message_bytes + 65536}",
        "log.retention.hours=168",
    ]
    if settings.broker_sasl_port:
        lines += _sasl_properties(settings)
    lines += [line.strip() for line in settings.broker_extra_properties.split(";") if line.strip()]
    return "\n".join(lines) + "\n"


SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def _sasl_properties(settings: Settings) -> list[str]:
    """PLAIN and SCRAM on the SASL listener; SCRAM users are added when storage is formatted."""
    plain_users = " ".join(f"user_{name}={_quoted(pw)}" for name, pw in settings.sasl_users.items())
    plain = f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
    prefix = "listener.name.sasl_plaintext"
    return [
        "sasl.enabled.mechanisms=PLAIN," + ",".join(SCRAM_MECHANISMS),
        f"{prefix}.plain.sasl.jaas.config={_properties_value(plain)}",
        *(
            f"{prefix}.{mechanism.lower()}.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            for mechanism in SCRAM_MECHANISMS
        ),
    ]


def _quoted(text: str) -> str:
    """Double quotes that both JAAS (a java.io.StreamTokenizer) and the JDK launcher's @file
    read back to `text`: inside them each takes a backslash as an escape."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _properties_value(text: str) -> str:
    """`text` as java.util.Properties reads it back: it takes a backslash as an escape and
    reads the file as ISO-8859-1, so anything but printable ASCII goes as UTF-16 `\\uXXXX`."""
    units = text.replace("\\", "\\\\").encode("utf-16-be")
    codes = struct.unpack(f">{len(units) // 2}H", units)
    return "".join(chr(code) if 0x20 <= code < 0x7F else f"\\u{code:04x}" for code in codes)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: created 0600 under a temporary name, then
    renamed over the old one, so neither a moment before a chmod nor an older file's mode
    leaves it readable."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)


LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


def _java(paths: BrokerPaths, main: str, *args: str) -> list[str]:
    return [
        _require("java"),
        "-Xms256m",
        "-Xmx1g",
        "-XX:+UseG1GC",
        f"-Dlog4j.configuration=file:{paths.log4j}",
        "-cp",
        f"{paths.lib}/*",
        main,
        *args,
    ]


def _run_privately(command: list[str], directory: Path) -> subprocess.CompletedProcess[str]:
    """Run java to its end with its arguments in an @file only this user can read.

    The JDK launcher reads `@file` as if its words were on the command line, which every
    user sees in `ps`; the file is deleted as soon as java exits. The main class goes in the
    file too: the launcher reads no @file after it.
    """
    java, *arguments = command
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=directory, prefix=".java-", suffix=".args"
    ) as argfile:
        argfile.write("\n".join(map(_quoted, arguments)) + "\n")
        argfile.flush()
        return subprocess.run(
            [java, f"@{argfile.name}"], capture_output=True, text=True, check=False
        )


SCRAM_ITERATIONS = 4096
"""Kafka's own default, and the fewest that SCRAM-SHA-256 and -512 accept."""


def _scram_credential(mechanism: str, name: str, password: str) -> str:
    """An `--add-scram` value holding the salted password rather than the password.

    The launcher decodes arguments in the locale's charset (under LANG=C a non-ASCII
    password becomes U+FFFD and never matches), and Kafka splits the value at ',' with no
    escape; base64 survives both. A salted password still logs in as the user, so it too
    goes only through the private @file.
    """
    salt = os.urandom(32)
    digest = mechanism.removeprefix("SCRAM-").replace("-", "").lower()
    salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, SCRAM_ITERATIONS)
    salt_text, salted_text = (base64.b64encode(value).decode() for value in (salt, salted))
    return (
        f"{mechanism}=[name={name},iterations={SCRAM_ITERATIONS},"
        f"salt={salt_text},saltedpassword={salted_text}]"
    )


def format_storage(settings: Settings, paths: BrokerPaths) -> None:
    """Format the KRaft log directory once; an already formatted one is kept with its data."""
    if (paths.data / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    scram = [
        argument
        for name, password in settings.sasl_users.items()
        for mechanism in SCRAM_MECHANISMS
        for argument in ("--add-scram", _scram_credential(mechanism, name, password))
    ]
    # One id in 64 starts with '-': as a separate argument the tool would take it for an option.
    command = _java(
        paths,
        "kafka.tools.StorageTool",
        "format",
        f"--cluster-id={cluster_id}",
        "-c",
        str(paths.config),
    )
    result = _run_privately([*command, *scram], paths.home)
    if result.returncode != 0:
        raise BrokerError(f"cannot format Kafka storage: {result.stdout}{result.stderr}".strip())


START_SECONDS = 300
"""A fresh broker opens its port in seconds; one reloading thousands of partitions after an
unclean stop needs minutes (130 s measured for 6,000 on this machine)."""


def _log_tail(paths: BrokerPaths, lines: int = 3) -> str:
    text = paths.log.read_text(errors="replace") if paths.log.exists() else ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "nothing"


def _wait_until_up(
    process: subprocess.Popen[bytes], settings: Settings, paths: BrokerPaths
) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"the Kafka broker exited at start: {_log_tail(paths)}")
        if port_open(settings.local_broker_port):
            return
        time.sleep(0.3)
    raise BrokerError(
        f"the Kafka broker did not open port {settings.local_broker_port} in {START_SECONDS} s;"
        f" the end of {paths.log}: {_log_tail(paths)}"
    )


def start(settings: Settings) -> str:
    """Start the local broker if needed, create the topics, and say what happened."""
    if not is_local(settings):
        asyncio.run(ensure_topics(settings))
        return f"using the Kafka at {settings.kafka_bootstrap}; no local broker started"
    paths = BrokerPaths(settings.broker_home)
    port = settings.local_broker_port
    pid = running_pid(paths)
    if pid is None:
        for taken in (port, settings.broker_controller_port, settings.broker_sasl_port):
            if taken and port_open(taken):
                raise BrokerError(f"port {taken} is taken by another process")
        _require("java")
        paths.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths.home.chmod(0o700)  # a home an older version made is readable by all
        fetch_jars(paths)
        write_private(paths.config, server_properties(settings, paths))
        paths.log4j.write_text(LOG4J)
        format_storage(settings, paths)
        with paths.log.open("ab") as out:
            process = subprocess.Popen(
                _java(paths, "kafka.Kafka", str(paths.config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        paths.pid.write_text(str(process.pid))
        _wait_until_up(process, settings, paths)
        state = f"started Kafka {KAFKA_VERSION} (pid {process.pid})"
    else:
        state = f"Kafka already running (pid {pid})"
    created = asyncio.run(ensure_topics(settings))
    return f"{state} on 127.0.0.1:{port}; {len(created)} topics created"


def stop(settings: Settings, timeout: float = 60.0) -> str:
    """Stop the local broker cleanly (SIGTERM), killing it only if it hangs."""
    paths = BrokerPaths(settings.broker_home)
    pid = running_pid(paths)
    if pid is None:
        return "no local Kafka broker is running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    paths.pid.unlink(missing_ok=True)
    return f"stopped Kafka (pid {pid})"


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def status(settings: Settings) -> str:
    if not is_local(settings):
        return f"using the Kafka at {settings.kafka_bootstrap} (not managed here)"
    paths = BrokerPaths(settings.broker_home)
    pid = running_pid(paths)
    port = settings.local_broker_port
    if pid is None:
        return f"stopped (port {port} {'taken by another process' if port_open(port) else 'free'})"
    answering = "answering" if port_open(port) else "not answering yet"
    return f"running (pid {pid}) on 127.0.0.1:{port}, {answering}"
