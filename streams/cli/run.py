"""`streams run`: the whole pipeline on the sample articles, shown readably, then stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from streams.errors import StreamsError
from streams.files import collect_messages
from streams.kafka import local_broker
from streams.kafka.io import Received, end_offsets, publish, read_records
from streams.kafka.topics import ensure_topics
from streams.settings import Settings


def describe(record: dict[str, Any]) -> str:
    """A few readable lines about one enriched article."""
    language = record.get("language") or {}
    lines = [
        f"● {record.get('title') or record['body'][:60]!s}",
        f"  id {record['id']}",
        f"  language {language.get('code')} (confidence {language.get('confidence')}, "
        f"{language.get('detector')}; hint {language.get('hint')})",
    ]
    entities = record.get("entities")
    if entities is not None:
        names = ", ".join(f"{e['text']} [{e['label']}]" for e in entities[:12])
        lines.append(f"  entities {len(entities)}: {names or '-'}")
    summary = record["pipeline"]["stages"].get("entities", {}).get("places")
    if summary and summary["places"]:
        places = ", ".join(
            f"{p['name']} ({p['kind']}, {p['country']}, {p['kb']}:{p['id']}) x{p['mentions']}"
            for p in summary["places"][:6]
        )
        main = summary["main_country"]
        lines.append(f"  places {places}" + (f"; mainly {main}" if main else ""))
    dedup = record.get("dedup")
    if dedup is not None and dedup["duplicate_of"] is not None:
        lines.append(
            f"  dedup {dedup['status']} of {dedup['duplicate_of']} "
            f"(similarity {dedup['similarity']:.2f})"
        )
    elif dedup is not None:
        lines.append(f"  dedup {dedup['status']}")
    return "\n".join(lines)


async def _await_results(
    settings: Settings, seeds: str, deadline: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    messages = collect_messages([seeds])
    expected = len(messages)
    keys = {key for key, _ in messages}
    starts = {
        topic: await end_offsets(settings, topic)
        for topic in (settings.topic_enriched, settings.topic_dlq)
    }
    await publish(settings, settings.topic_raw, messages)
    print(f"published {expected} articles from {seeds}/ to {settings.topic_raw}")
    found: dict[str, list[dict[str, Any]]] = {settings.topic_enriched: [], settings.topic_dlq: []}
    while time.monotonic() < deadline and sum(map(len, found.values())) < expected:
        for topic, records in found.items():
            records.clear()

            def keep(record: Received, into: list[Any] = records) -> bool:
                if record.key in keys:
                    into.append(orjson.loads(record.value or b"null"))
                return True

            await read_records(settings, topic, keep, idle_timeout=1.0, start=starts[topic])
    return found[settings.topic_enriched], found[settings.topic_dlq]


def demo(settings: Settings, seeds: str, timeout: float) -> int:
    """Start what is missing, publish the seeds, print what comes out, stop what was started."""
    if not Path(seeds).is_dir():
        raise StreamsError(f"no folder {seeds}/ of sample articles here")
    started_broker = False
    if (
        not settings.kafka_bootstrap_configured
        and local_broker.running_pid(local_broker.BrokerPaths(settings.broker_home)) is None
    ):
        print(local_broker.start(settings))
        started_broker = True
    else:
        asyncio.run(ensure_topics(settings))
    # mkdtemp makes the folder 0700: the log is its user's alone.
    log = Path(tempfile.mkdtemp(prefix="streams-demo-")) / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "STREAMS_LOG_LEVEL": os.environ.get("STREAMS_LOG_LEVEL", "WARNING")},
        )
    print(f"worker started (pid {worker.pid}, log {log})")
    try:
        deadline = time.monotonic() + timeout
        enriched, dead = asyncio.run(_await_results(settings, seeds, deadline))
        for record in enriched:
            print(describe(record))
        for letter in dead:
            print(f"✗ dead letter {letter['error_code']}: {letter['message']}")
        if worker.poll() is not None:
            raise StreamsError(f"the worker exited with code {worker.returncode}; see {log}")
        if not enriched and not dead:
            raise StreamsError(f"no results within {timeout:.0f} s; see {log}")
        return 0
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
        print("worker stopped")
        if started_broker:
            print(local_broker.stop(settings))
