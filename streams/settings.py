"""Every `STREAMS_*` environment variable, read here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.errors import ConfigError
from streams.stages import STAGES

PREFIX = "STREAMS_"
GUARANTEES = ("exactly_once", "at_least_once")
MIB = 1024 * 1024


class Secret(str):
    """A string that never shows its value in reprs, logs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('**********')"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration, passed down explicitly so tests can build their own."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    """Kafka bootstrap servers, comma-separated host:port."""
    kafka_bootstrap_configured: bool = False
    """True when the user named a broker, so no local one is started for them."""
    security_protocol: str = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, passed to every Kafka client."""
    sasl_mechanism: str = "PLAIN"
    """PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: Secret | None = None

    app_id: str = "streams"
    """Faust application id: the consumer-group and changelog-topic prefix."""
    topic_prefix: str = "articles"
    """Internal topics are named <prefix>.<stage>."""
    topic_raw: str = "articles.raw"
    topic_enriched: str = "articles.enriched"
    topic_dlq: str = "articles.dlq"
    partitions: int = 4
    replication_factor: int = 1
    max_message_bytes: int = 8 * MIB
    """Largest message accepted by topics and clients."""
    max_body_bytes: int = 1_000_000
    """Largest article body, in UTF-8 bytes."""

    processing_guarantee: str = "exactly_once"
    """at_least_once is selectable: no transactions, byte-identical repeats (RELIABILITY.md)."""
    commit_interval_seconds: float = 0.25
    """How often a stage commits; under exactly_once the next stage sees an output only then,
    so this sets most of the end-to-end latency (faust's own default is 2.8)."""
    session_timeout_seconds: float = 30.0
    """How soon the group notices a dead worker; tests set it low."""
    data_dir: Path = field(default_factory=lambda: Path("streams-data"))
    """Where faust keeps RocksDB tables (rebuilt from changelogs when lost)."""
    web_port: int = 0
    """faust's own web server, 0 (the default) for none: nothing here needs it, and it
    answers without authentication. Several workers on one host need distinct ports."""
    web_bind: str = "127.0.0.1"
    """Where faust's web server listens when it is on; 0.0.0.0 only when asked."""
    metrics_port: int = 9108
    """Prometheus metrics over HTTP; 0 turns the endpoint off."""
    log_level: str = "INFO"
    lag_interval_seconds: float = 5.0
    """How often each worker samples its consumer lag."""
    stall_seconds: float = 60.0
    """A partition with waiting messages and no commit for this long counts as stalled."""

    languages: tuple[str, ...] = ()
    """Candidate languages (ISO codes) for detection; empty means every supported one."""

    entity_pipelines: dict[str, str] | None = None
    """Language code -> spaCy pipeline (package name or path); None means the shipped set."""
    dedup_threshold: float = 0.5
    """Estimated Jaccard similarity of word 3-shingles at which a body is a near duplicate."""
    dedup_retention_seconds: float = 7 * 24 * 3600.0
    """How long an article stays matchable, counted from its input's Kafka timestamp."""

    broker_home: Path = field(default_factory=lambda: Path.home() / ".cache" / "streams" / "kafka")
    """Cache for the local broker's jars, storage and logs, outside the repository."""
    broker_controller_port: int = 9093
    broker_sasl_port: int = 0
    """A SASL_PLAINTEXT listener (PLAIN and SCRAM) for the local broker; 0 means none."""
    broker_sasl_users: Secret | None = None
    """`name:password,...` accepted by the local broker's SASL listener."""
    broker_extra_properties: str = ""
    """Extra server.properties lines for the local broker, separated by ';'."""

    @property
    def stage_topics(self) -> dict[str, str]:
        """The topic each stage consumes, in flow order: the raw input first, then
        `<prefix>.<stage>`."""
        first, *rest = STAGES
        topics = {first.name: self.topic_raw}
        topics |= {stage.name: f"{self.topic_prefix}.{stage.name}" for stage in rest}
        return topics

    def partitions_of(self, topic: str) -> int:
        """Partitions a pipeline topic is created with: the stage's own count, if it has one
        (streams/stages), else STREAMS_PARTITIONS."""
        fixed = {self.stage_topics[stage.name]: stage.partitions for stage in STAGES}
        return fixed.get(topic) or self.partitions

    @property
    def sasl_users(self) -> dict[str, str]:
        """The local broker's SASL users, name to password."""
        raw = self.broker_sasl_users.reveal() if self.broker_sasl_users else ""
        pairs = (entry.split(":", 1) for entry in raw.split(",") if ":" in entry)
        return {name.strip(): password for name, password in pairs}

    @property
    def local_broker_port(self) -> int:
        """The port the local broker listens on, taken from the bootstrap address."""
        first = self.kafka_bootstrap.split(",")[0]
        return int(first.rsplit(":", 1)[1])


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(PREFIX + name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, not {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(PREFIX + name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{PREFIX}{name} must be positive, not {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(PREFIX + name, default)
    if value not in allowed:
        raise ConfigError(f"{PREFIX}{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    raw = env.get(PREFIX + name)
    return None if raw is None else Secret(raw)


def parse_pipelines(value: str) -> dict[str, str]:
    """`en=en_core_web_sm,de=/path/to/model` -> {"en": ..., "de": ...}; "" -> {}."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        code, sep, pipeline = item.partition("=")
        if not sep or not code.strip() or not pipeline.strip():
            raise ConfigError(f"entity pipeline {item!r} is not of the form language=pipeline")
        out[code.strip().lower()] = pipeline.strip()
    return out


def _pipelines(env: Mapping[str, str]) -> dict[str, str] | None:
    """Unset means the shipped pipelines."""
    raw = env.get(PREFIX + "ENTITY_PIPELINES")
    return None if raw is None else parse_pipelines(raw)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or a given mapping, for tests)."""
    env = os.environ if env is None else env
    get = env.get
    bootstrap = get(PREFIX + "KAFKA_BOOTSTRAP")
    prefix = get(PREFIX + "TOPIC_PREFIX", "articles")
    defaults = Settings()
    settings = Settings(
        kafka_bootstrap=bootstrap or defaults.kafka_bootstrap,
        kafka_bootstrap_configured=bool(bootstrap),
        security_protocol=_choice(
            env,
            "KAFKA_SECURITY_PROTOCOL",
            "PLAINTEXT",
            ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        ),
        sasl_mechanism=_choice(
            env, "KAFKA_SASL_MECHANISM", "PLAIN", ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        ),
        sasl_username=get(PREFIX + "KAFKA_SASL_USERNAME"),
        sasl_password=_secret(env, "KAFKA_SASL_PASSWORD"),
        ssl_cafile=get(PREFIX + "KAFKA_SSL_CAFILE"),
        ssl_certfile=get(PREFIX + "KAFKA_SSL_CERTFILE"),
        ssl_keyfile=get(PREFIX + "KAFKA_SSL_KEYFILE"),
        ssl_password=_secret(env, "KAFKA_SSL_PASSWORD"),
        app_id=get(PREFIX + "APP_ID", defaults.app_id),
        topic_prefix=prefix,
        topic_raw=get(PREFIX + "TOPIC_RAW", f"{prefix}.raw"),
        topic_enriched=get(PREFIX + "TOPIC_ENRICHED", f"{prefix}.enriched"),
        topic_dlq=get(PREFIX + "TOPIC_DLQ", f"{prefix}.dlq"),
        partitions=_int(env, "PARTITIONS", defaults.partitions, minimum=1),
        replication_factor=_int(env, "REPLICATION_FACTOR", defaults.replication_factor, 1),
        max_message_bytes=_int(env, "MAX_MESSAGE_BYTES", defaults.max_message_bytes, MIB),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1),
        processing_guarantee=_choice(
            env, "PROCESSING_GUARANTEE", defaults.processing_guarantee, GUARANTEES
        ),
        commit_interval_seconds=_float(
            env, "COMMIT_INTERVAL_SECONDS", defaults.commit_interval_seconds
        ),
        session_timeout_seconds=_float(
            env, "SESSION_TIMEOUT_SECONDS", defaults.session_timeout_seconds
        ),
        data_dir=Path(get(PREFIX + "DATA_DIR", str(defaults.data_dir))),
        web_port=_int(env, "WEB_PORT", defaults.web_port),
        web_bind=get(PREFIX + "WEB_BIND", defaults.web_bind),
        metrics_port=_int(env, "METRICS_PORT", defaults.metrics_port),
        log_level=get(PREFIX + "LOG_LEVEL", defaults.log_level).upper(),
        lag_interval_seconds=_float(env, "LAG_INTERVAL_SECONDS", defaults.lag_interval_seconds),
        stall_seconds=_float(env, "STALL_SECONDS", defaults.stall_seconds),
        languages=tuple(
            code.strip().lower()
            for code in get(PREFIX + "LANGUAGES", "").split(",")
            if code.strip()
        ),
        entity_pipelines=_pipelines(env),
        dedup_threshold=_float(env, "DEDUP_THRESHOLD", defaults.dedup_threshold),
        dedup_retention_seconds=_float(
            env, "DEDUP_RETENTION_SECONDS", defaults.dedup_retention_seconds
        ),
        broker_home=Path(get(PREFIX + "BROKER_HOME", str(defaults.broker_home))).expanduser(),
        broker_controller_port=_int(
            env, "BROKER_CONTROLLER_PORT", defaults.broker_controller_port, minimum=1
        ),
        broker_sasl_port=_int(env, "BROKER_SASL_PORT", defaults.broker_sasl_port),
        broker_sasl_users=_secret(env, "BROKER_SASL_USERS"),
        broker_extra_properties=get(PREFIX + "BROKER_EXTRA_PROPERTIES", ""),
    )
    if settings.dedup_threshold > 1:
        raise ConfigError(
            f"{PREFIX}DEDUP_THRESHOLD must be at most 1, not {settings.dedup_threshold}"
        )
    if settings.security_protocol.startswith("SASL") and not (
        settings.sasl_username and settings.sasl_password
    ):
        raise ConfigError(
            "STREAMS_KAFKA_SASL_USERNAME and STREAMS_KAFKA_SASL_PASSWORD are required "
            f"with {settings.security_protocol}"
        )
    return settings
