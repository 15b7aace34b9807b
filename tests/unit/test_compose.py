"""docker-compose.yml and everything it refers to, checked without a Docker engine."""

from __future__ import annotations

import copy
import fnmatch
import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from streams.kafka.local_broker import is_local
from streams.metrics import create_metrics
from streams.settings import Settings, load_settings
from streams.stages import NAMES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
DASHBOARD_FILE = ROOT / "deploy" / "grafana" / "dashboards" / "streams.json"

# The metrics DESIGN.md promises; the dashboard shows each of them.
CONTRACT_METRICS = (
    "streams_messages_total",
    "streams_dead_letters_total",
    "streams_stage_seconds_bucket",
    "streams_end_to_end_seconds_bucket",
    "streams_consumer_lag",
    "streams_stalled_partitions",
    "streams_languages_total",
    "streams_entities_per_article_bucket",
    "streams_dedup_total",
)


def load_yaml(path: Path) -> Any:
    # YAML 1.2 with merge keys, as Compose reads it (`on` and `yes` stay strings).
    return YAML(typ="safe", pure=True).load(path)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text())


# --- compose helpers -----------------------------------------------------------------------


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's variables as the container sees them (both Compose forms; null = unset)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in raw.items()
        if value is not None
    }


def command(service: Mapping[str, Any]) -> list[str]:
    raw = service.get("command") or []
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def worker_stages(service: Mapping[str, Any]) -> set[str] | None:
    """The stages a `streams worker` service runs, or None for any other service."""
    argv = command(service)
    if argv[:1] != ["worker"]:
        return None
    if "--stages" not in argv:
        return set(NAMES)
    return set(argv[argv.index("--stages") + 1].split(","))


@dataclass(frozen=True, slots=True)
class Mount:
    source: str | None
    """Host path of a bind mount, name of a named volume, None for an anonymous volume."""
    target: str
    bind: bool


def mounts(service: Mapping[str, Any]) -> Iterator[Mount]:
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            yield Mount(entry.get("source"), entry["target"], entry.get("type") == "bind")
            continue
        source, _, rest = entry.partition(":")
        if not rest:
            yield Mount(None, source, bind=False)
        else:
            yield Mount(source, rest.split(":")[0], bind=source.startswith((".", "/", "~")))


def host_path(service: Mapping[str, Any], container_path: str) -> Path | None:
    """The repository file a path inside the service's container is bind-mounted from."""
    wanted = PurePosixPath(container_path)
    best: tuple[int, Path] | None = None
    for mount in mounts(service):
        target = PurePosixPath(mount.target)
        if mount.bind and mount.source and (wanted == target or target in wanted.parents):
            depth = len(target.parts)
            if best is None or depth > best[0]:
                best = (depth, ROOT / mount.source / wanted.relative_to(target))
    return None if best is None else best[1]


def metrics_port(service: Mapping[str, Any]) -> int:
    return load_settings(environment(service)).metrics_port


# --- settings --------------------------------------------------------------------------------


class _RecordingEnv(Mapping[str, str]):
    """An empty environment that remembers every name looked up in it."""

    def __init__(self) -> None:
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def known_settings() -> frozenset[str]:
    """Every variable `load_settings` reads, found by asking it rather than by a list here."""
    env = _RecordingEnv()
    load_settings(env)
    return frozenset(name for name in env.read if name.startswith("STREAMS_"))


def unknown_settings(env: Mapping[str, str], known: frozenset[str]) -> list[str]:
    return sorted(name for name in env if name.startswith("STREAMS_") and name not in known)


# --- PromQL ------------------------------------------------------------------------------------

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
_NAME_MATCHER = re.compile(r"__name__\s*(?:=~|!~|!=|=)\s*(" + _STRING + ")")
_GRAFANA_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|\w+)")
_SELECTOR_OR_RANGE = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.I)
_IDENTIFIER = re.compile(r"(?<![\w:.$])[A-Za-z_:][\w:]*(?![\w:])")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "inf", "nan"}
    | {"by", "without", "on", "ignoring", "group_left", "group_right"}
)


def metric_names_in(expr: str) -> set[str]:
    """Metric names an expression selects.

    Deliberately greedy: any bare word that is not a function, keyword or label name counts
    as a metric, so an unusual query is reported rather than passed over.
    """
    names = {match.group(1)[1:-1] for match in _NAME_MATCHER.finditer(expr)}
    text = _GRAFANA_VARIABLE.sub("0", expr)
    text = re.sub(_STRING, '""', text)
    text = _SELECTOR_OR_RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    for match in _IDENTIFIER.finditer(text):
        word = match.group()
        is_call = text[match.end() :].lstrip().startswith("(")
        if not is_call and word.lower() not in _KEYWORDS:
            names.add(word)
    return names


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),)?\s*\w+\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


def dashboard_expressions(dashboard: Mapping[str, Any]) -> list[str]:
    """Every PromQL expression: each `expr` anywhere in the panels, and variable queries."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    found.append(value)
                elif key != "templating":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dict(dashboard))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        if match := _LABEL_VALUES.match(query):
            query = match.group(1) or ""
        elif match := _QUERY_RESULT.match(query):
            query = match.group(1)
        found.append(query)
    return [expr for expr in found if expr.strip()]


def exported_series() -> set[str]:
    """Series names the workers' registry exposes, labelled or not yet observed included."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in create_metrics().registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def unknown_metrics(dashboard: Mapping[str, Any], known: set[str]) -> list[tuple[str, str]]:
    """(metric, expression) for every metric a dashboard queries that `known` lacks."""
    return sorted(
        (name, expr)
        for expr in dashboard_expressions(dashboard)
        for name in metric_names_in(expr)
        if name not in known
    )


# --- the compose file ----------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    """The compose-spec schema that check-jsonschema vendors (Apache-2.0, compose-spec).

    Read from the installed distribution's files, not imported: only the data is needed.
    """
    dist = importlib.metadata.distribution("check-jsonschema")
    for file in dist.files or []:
        if file.name == "compose-spec.json":
            return json.loads(Path(str(dist.locate_file(file))).read_text())
    raise AssertionError("check-jsonschema ships no compose-spec.json")


def schema_errors(document: Any) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(
        f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)
    )


def test_compose_file_follows_the_compose_spec(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_compose_spec_validation_rejects_a_misspelt_key(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["worker-dedup"]["enviroment"] = {"STREAMS_LOG_LEVEL": "DEBUG"}
    assert any("enviroment" in error for error in schema_errors(broken))


def test_every_pipeline_stage_has_its_own_worker_service(
    services: dict[str, dict[str, Any]],
) -> None:
    runs = {name: stages for name, s in services.items() if (stages := worker_stages(s))}
    for stage in NAMES:
        assert [name for name, stages in runs.items() if stage in stages] == [f"worker-{stage}"]
        assert runs[f"worker-{stage}"] == {stage}
    assert services["worker-entities"]["deploy"]["replicas"] > 1


def test_streams_services_wait_for_the_topics(services: dict[str, dict[str, Any]]) -> None:
    topics = services["topics"]
    assert command(topics) == ["broker", "start"]
    # With a bootstrap that is not local, `streams broker start` only creates the topics.
    assert not is_local(load_settings(environment(topics)))
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    users = [name for name, s in services.items() if command(s)[:1] in (["worker"], ["produce"])]
    assert "seed-producer" in users
    for name in users:
        depends = services[name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully", name


def test_kafka_matches_what_the_clients_expect(services: dict[str, dict[str, Any]]) -> None:
    kafka = environment(services["kafka"])
    advertised = {
        listener.split("://", 1)[1] for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    assert "localhost:9092" in advertised
    assert "9092:9092" in services["kafka"]["ports"]
    for name, service in services.items():
        if bootstrap := environment(service).get("STREAMS_KAFKA_BOOTSTRAP"):
            assert set(bootstrap.split(",")) <= advertised, name
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert int(kafka["KAFKA_MESSAGE_MAX_BYTES"]) > Settings().max_message_bytes
    assert int(kafka["KAFKA_REPLICA_FETCH_MAX_BYTES"]) > Settings().max_message_bytes
    for single in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert kafka[single] == "1", single
    assert kafka["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert "healthcheck" in services["kafka"]


# --- settings named in the compose file --------------------------------------------------------


def test_known_settings_come_from_load_settings() -> None:
    known = known_settings()
    assert {"STREAMS_KAFKA_BOOTSTRAP", "STREAMS_METRICS_PORT", "STREAMS_DATA_DIR"} <= known
    env = {"STREAMS_KAFKA_BOOTSTRAP": "kafka:29092", "STREAMS_METRICS_PROT": "9108"}
    assert unknown_settings(env, known) == ["STREAMS_METRICS_PROT"]


def test_every_streams_variable_names_a_real_setting(
    services: dict[str, dict[str, Any]],
) -> None:
    known = known_settings()
    unknown = {name: unknown_settings(environment(s), known) for name, s in services.items()}
    assert {name: names for name, names in unknown.items() if names} == {}


def test_every_streams_variable_holds_a_valid_value(services: dict[str, dict[str, Any]]) -> None:
    for service in services.values():
        load_settings(environment(service))  # raises ConfigError on a bad value


# --- Prometheus ----------------------------------------------------------------------------


def scrape_targets(config: Mapping[str, Any]) -> set[tuple[str, int]]:
    """(host, port) of every target, static or found by DNS."""
    targets: set[tuple[str, int]] = set()
    for job in config["scrape_configs"]:
        for dns in job.get("dns_sd_configs", []):
            targets.update((name, int(dns["port"])) for name in dns["names"])
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                targets.add((host, int(port)))
    return targets


def test_prometheus_scrapes_every_worker_on_its_metrics_port(
    services: dict[str, dict[str, Any]],
) -> None:
    targets = scrape_targets(load_yaml(PROMETHEUS_FILE))
    assert targets
    for host, port in targets:
        assert host in services, f"{host} is not a compose service"
        assert worker_stages(services[host]) is not None, f"{host} runs no worker"
        assert port == metrics_port(services[host]) != 0, host
    workers = {name for name, s in services.items() if worker_stages(s) is not None}
    assert {host for host, _ in targets} == workers


def test_prometheus_reads_the_mounted_config(services: dict[str, dict[str, Any]]) -> None:
    assert host_path(services["prometheus"], "/etc/prometheus/prometheus.yml") == PROMETHEUS_FILE


# --- the dashboard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            "sum by (stage, outcome) (rate(streams_messages_total[$__rate_interval]))",
            {"streams_messages_total"},
        ),
        (
            'sum(rate(a_total{status!="unique", x=~"by|on"}[5m] offset 1h)) / on (x) group_left b',
            {"a_total", "b"},
        ),
        ("histogram_quantile(0.99, sum without (pod) (rate(h_bucket[5m:1m])))", {"h_bucket"}),
        ('label_replace(up, "dst", "$1", "src", "(.*)") > bool 1e3 and nope', {"up", "nope"}),
        ('{__name__="made_up_total", stage="x"} or count(${metric})', {"made_up_total"}),
        ("sum(streams_consumer_lag) by (topic)", {"streams_consumer_lag"}),
    ],
)
def test_metric_names_in_finds_the_selected_metrics(expr: str, names: set[str]) -> None:
    assert metric_names_in(expr) == names


def test_dashboard_queries_only_exported_metrics(dashboard: dict[str, Any]) -> None:
    exported = exported_series()
    assert {"streams_messages_total", "streams_stage_seconds_bucket"} <= exported
    assert "streams_messages" not in exported  # the counter's family name is no series
    assert len(dashboard_expressions(dashboard)) >= len(CONTRACT_METRICS)
    assert unknown_metrics(dashboard, exported) == []


def test_dashboard_shows_every_contract_metric(dashboard: dict[str, Any]) -> None:
    queried = set().union(*map(metric_names_in, dashboard_expressions(dashboard)))
    assert set(CONTRACT_METRICS) - queried == set()
    assert set(CONTRACT_METRICS) <= exported_series()


def test_a_made_up_metric_in_the_dashboard_is_reported(dashboard: dict[str, Any]) -> None:
    fake = copy.deepcopy(dashboard)
    hidden = "sum by (stage) (rate(streams_messages_total[5m])) / on (stage) streams_made_up_total"
    fake["panels"].append(
        {"type": "row", "panels": [{"type": "timeseries", "targets": [{"expr": hidden}]}]}
    )
    fake["templating"]["list"].append(
        {"type": "query", "query": {"query": "label_values(streams_invented_seconds, stage)"}}
    )
    exported = exported_series()
    reported = set(unknown_metrics(fake, exported)) - set(unknown_metrics(dashboard, exported))
    assert reported == {
        ("streams_invented_seconds", "streams_invented_seconds"),
        ("streams_made_up_total", hidden),
    }


def test_a_map_shows_the_countries_the_news_is_about(dashboard: dict[str, Any]) -> None:
    [geomap] = [panel for panel in dashboard["panels"] if panel["type"] == "geomap"]
    [target] = geomap["targets"]
    assert metric_names_in(target["expr"]) == {"streams_places_total"}
    assert "by (country)" in target["expr"] and target["format"] == "table"
    [layer] = geomap["options"]["layers"]
    # Grafana's country gazetteer is keyed by ISO alpha-2 codes, the label's values.
    assert layer["location"] == {
        "mode": "lookup",
        "lookup": "country",
        "gazetteer": "public/gazetteer/countries.json",
    }


# --- Grafana ---------------------------------------------------------------------------------


def test_grafana_provisions_the_mounted_dashboard(
    services: dict[str, dict[str, Any]], dashboard: dict[str, Any]
) -> None:
    grafana = services["grafana"]
    assert host_path(grafana, "/etc/grafana/provisioning") == GRAFANA_PROVISIONING
    providers = load_yaml(GRAFANA_PROVISIONING / "dashboards" / "streams.yml")["providers"]
    folders = [host_path(grafana, p["options"]["path"]) for p in providers]
    assert DASHBOARD_FILE.parent in folders
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path(grafana, home) == DASHBOARD_FILE

    sources = load_yaml(GRAFANA_PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    prometheus = next(s for s in sources if s["type"] == "prometheus")
    assert prometheus["url"] == "http://prometheus:9090"
    assert "9090:9090" in services["prometheus"]["ports"]
    uids = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    assert uids == {prometheus["uid"]}


def test_dashboard_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]
        assert panel["type"] == "row" or refs, panel["title"]


# --- files the compose file builds from or mounts --------------------------------------------


def dockerfile_sources(dockerfile: Path) -> list[str]:
    """Context paths the Dockerfile's COPY and ADD instructions read (not other stages)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    sources: list[str] = []
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word.upper() not in ("COPY", "ADD"):
            continue
        rest = rest.strip()
        args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        if any(arg.startswith("--from") for arg in args):
            continue
        sources += [arg for arg in args if not arg.startswith("--")][:-1]
    return sources


def dockerignored(path: str, context: Path) -> bool:
    ignore = context / ".dockerignore"
    if not ignore.exists():
        return False
    patterns = [
        line.strip() for line in ignore.read_text().splitlines() if line.strip()[:1] not in "#!"
    ]
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, p.lstrip("/")) for p in patterns for prefix in prefixes)


def test_every_build_context_and_copied_file_exists(services: dict[str, dict[str, Any]]) -> None:
    builds = [s["build"] for s in services.values() if "build" in s]
    assert builds
    for build in builds:
        spec = {"context": build} if isinstance(build, str) else build
        context = ROOT / spec.get("context", ".")
        dockerfile = context / spec.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), dockerfile
        sources = dockerfile_sources(dockerfile)
        assert sources
        for source in sources:
            assert (context / source).exists(), source
            assert not dockerignored(source, context), f"{source} is in .dockerignore"


def test_every_mounted_file_exists_and_every_volume_is_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for mount in mounts(service):
            if mount.bind:
                assert mount.source
                path = (ROOT / mount.source).resolve()
                assert path.exists() and path.is_relative_to(ROOT), f"{name}: {mount.source}"
            elif mount.source is not None:
                assert mount.source in declared, f"{name}: volume {mount.source}"
        for env_file in service.get("env_file") or []:
            assert (ROOT / env_file).is_file(), f"{name}: {env_file}"
        for other in service.get("depends_on") or []:
            assert other in services, f"{name} depends on unknown {other}"
    for section in ("configs", "secrets"):
        for item in (compose.get(section) or {}).values():
            if "file" in item:
                assert (ROOT / item["file"]).is_file(), item["file"]


# --- the real Prometheus tools (Debian package `prometheus`) ----------------------------------


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: install the Debian package `prometheus` (make test does)"
    return found


def test_promtool_accepts_the_prometheus_config() -> None:
    result = subprocess.run(
        [promtool(), "check", "config", str(PROMETHEUS_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


GRAFANA_RANGES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def test_promtool_parses_every_dashboard_query(dashboard: dict[str, Any], tmp_path: Path) -> None:
    tool = promtool()
    exprs = dashboard_expressions(dashboard)
    for variable, value in GRAFANA_RANGES.items():
        exprs = [expr.replace(variable, value) for expr in exprs]
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [tool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
