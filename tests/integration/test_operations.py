"""What operators see: `streams status` and the metrics, scraped by a real Prometheus server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.settings import Settings
from tests.integration.conftest import WITHOUT_NER_MODELS, Pipeline, free_port, make_pipeline

BAD = [b"{not json", b"[1, 2]", b'{"title": "no body"}', b"\xff\xfe", b'{"body": 5}']
CODES = {
    "invalid_json": 1,
    "not_an_object": 1,
    "missing_body": 1,
    "bad_encoding": 1,
    "invalid_field": 1,
}


@pytest.fixture(scope="module")
def busy(kafka: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """One worker whose lag is sampled every second, so a burst shows up as lag.

    Under at_least_once, because `streams status` counts offsets: under transactions its
    counts also hold the commit markers, and these tests assert exact counts.
    """
    running = make_pipeline(
        kafka,
        tmp_path_factory.mktemp("operations"),
        STREAMS_PROCESSING_GUARANTEE="at_least_once",
        STREAMS_LAG_INTERVAL_SECONDS="1",
        **WITHOUT_NER_MODELS,
    )
    running.start_worker()
    yield running
    running.stop_all()


def status(pipeline: Pipeline) -> dict[str, Any]:
    url = f"http://127.0.0.1:{pipeline.metrics_ports[0]}/metrics"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams",
            "status",
            "--once",
            "--json",
            "--interval",
            "0.5",
            "--metrics",
            url,
        ],
        env=pipeline.env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_status_counts_exactly_what_was_sent(busy: Pipeline) -> None:
    articles = [
        (f"status-{n}".encode(), orjson.dumps({"body": f"Article number {n} about the weather."}))
        for n in range(12)
    ]
    busy.produce(articles + [(f"bad-{n}".encode(), value) for n, value in enumerate(BAD)])
    busy.enriched([key.decode() for key, _ in articles])
    deadline = time.monotonic() + 60
    snap = status(busy)
    while snap["stages"]["dedup"]["lag"] or snap["stages"]["validate"]["lag"]:
        assert time.monotonic() < deadline, snap
        time.sleep(1)
        snap = status(busy)
    validate = snap["stages"]["validate"]
    assert (validate["messages"], validate["processed"]) == (17, 17)
    assert snap["stages"]["dedup"]["messages"] == 12
    assert snap["output"]["messages"] == 12
    assert snap["dead_letters"]["total"] == 5
    assert snap["dead_letters"]["by_code"] == CODES
    assert snap["dead_letters"]["by_stage"] == {"validate": 5}
    assert sum(snap["dedup"]["verdicts"].values()) == 12
    assert snap["dedup"]["unreachable_metrics"] == []


def query(port: int, expression: str) -> float:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_prometheus_scrapes_throughput_latency_and_lag(busy: Pipeline, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: streams\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{busy.metrics_ports[0]}']}}]\n"
    )
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        burst = [
            (f"burst-{n}".encode(), orjson.dumps({"body": f"Der Artikel {n} handelt vom Wetter."}))
            for n in range(3000)
        ]
        busy.produce(burst)
        busy.enriched([key.decode() for key, _ in burst], timeout=120)
        deadline = time.monotonic() + 60
        found: dict[str, float] = {}
        expressions = {
            "throughput": "sum(max_over_time(streams_messages_total[5m]))",
            "latency": "sum(max_over_time(streams_stage_seconds_sum[5m]))",
            "end to end": "sum(max_over_time(streams_end_to_end_seconds_count[5m]))",
            "lag": "max(max_over_time(streams_consumer_lag[5m]))",
        }
        while time.monotonic() < deadline:
            try:
                found = {name: query(port, expr) for name, expr in expressions.items()}
            except OSError:
                found = {}
            if found and all(found.values()):
                break
            time.sleep(1)
        assert found and all(found.values()), found
    finally:
        server.terminate()
        server.wait(30)


def test_lag_returns_to_zero_once_the_work_is_done(kafka: Settings, tmp_path: Path) -> None:
    """Under exactly_once (the default) every partition ends in a commit marker that no
    consumer receives: the lag gauges must not count it, or an idle pipeline would look
    stalled."""
    eos = make_pipeline(
        kafka,
        tmp_path,
        STREAMS_LAG_INTERVAL_SECONDS="1",
        **WITHOUT_NER_MODELS,
    )
    eos.start_worker()
    try:
        articles = [
            (f"idle-{n}".encode(), orjson.dumps({"body": f"Notiz {n}."})) for n in range(20)
        ]
        eos.produce(articles)
        eos.enriched([key.decode() for key, _ in articles])
        url = f"http://127.0.0.1:{eos.metrics_ports[0]}/metrics"
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(url, timeout=5) as response:
                families = text_string_to_metric_families(response.read().decode())
                lags = [
                    sample.value
                    for family in families
                    if family.name == "streams_consumer_lag"
                    for sample in family.samples
                ]
            if (lags and not any(lags)) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        eos.stop_all()
    assert lags, "no lag gauge exported"
    assert not any(lags), lags


def test_the_demo_shows_each_seed_enriched_with_its_places(kafka: Settings, tmp_path: Path) -> None:
    """`make run` as a user with their own Kafka runs it: the topics are created, the seeds
    come out enriched, the worker is stopped."""
    made = make_pipeline(kafka, tmp_path).env
    env = {
        **made,
        "STREAMS_TOPIC_PREFIX": made["STREAMS_TOPIC_PREFIX"] + "demo",  # topics not created yet
        "STREAMS_METRICS_PORT": "0",
        "STREAMS_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = done.stdout
    seeds = sorted((Path(__file__).parents[2] / "seeds").glob("*.txt"))
    assert f"published {len(seeds)} articles" in shown
    assert shown.count("● ") == len(seeds) and "worker stopped" in shown
    assert "language de" in shown and "language ru" in shown
    assert "Russia (country, RU, geonames:2017370)" in shown
