"""The `streams` command: one entry point, a module per command that needs more than a line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aiokafka.errors import KafkaError

from streams import __version__
from streams.errors import ConfigError, StreamsError
from streams.logs import LastError, redact, secrets_of
from streams.settings import Settings, load_settings
from streams.stages import NAMES, parse_stages


def _stages(value: str) -> tuple[str, ...]:
    try:
        return parse_stages(value)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return number


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="streams", description="Enrich news articles on Apache Kafka."
    )
    top.add_argument("--version", action="version", version=f"streams {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    broker = commands.add_parser("broker", help="the local single-node Kafka")
    broker.add_argument("action", choices=("start", "stop", "status"))

    worker = commands.add_parser("worker", help="run the pipeline, or some of its stages")
    worker.add_argument(
        "--stages",
        type=_stages,
        default=NAMES,
        help=f"comma-separated subset of {','.join(NAMES)} (default: all)",
    )

    produce = commands.add_parser("produce", help="publish .txt/.json/.jsonl articles")
    produce.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    produce.add_argument("--topic", help="topic to publish to (default: the input topic)")

    consume = commands.add_parser("consume", help="print records as JSON lines")
    consume.add_argument("--topic", help="topic to read (default: the output topic)")
    consume.add_argument("--max", type=int, default=None, help="stop after N records")
    consume.add_argument(
        "--timeout", type=_positive, default=10.0, help="stop after S idle seconds (default 10)"
    )

    status = commands.add_parser("status", help="live view of each stage")
    status.add_argument("--once", action="store_true", help="print one snapshot and exit")
    status.add_argument("--json", action="store_true", help="snapshots as JSON lines")
    status.add_argument(
        "--interval", type=_positive, default=2.0, help="seconds between snapshots (default 2)"
    )
    status.add_argument(
        "--metrics",
        action="append",
        metavar="URL",
        help="a worker's metrics URL, repeatable (default: this host's STREAMS_METRICS_PORT)",
    )

    dlq = commands.add_parser("dlq", help="dead letters")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    replay = dlq_commands.add_parser("replay", help="send dead letters back to the input topic")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="edited dead letters, one JSON per line")
    source.add_argument(
        "--code", action="append", help="replay unchanged the letters with this error code"
    )

    run = commands.add_parser("run", help="the demo: broker, worker, seeds, results")
    run.add_argument("--seeds", default="seeds", help="folder of articles to publish")
    run.add_argument("--timeout", type=_positive, default=300.0, help="give up after S seconds")
    return top


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run one command; imports are local so `streams --help` stays instant."""
    if args.command == "broker":
        from streams.kafka import local_broker

        action = {
            "start": local_broker.start,
            "stop": local_broker.stop,
            "status": local_broker.status,
        }
        print(action[args.action](settings))
        return 0
    if args.command == "worker":
        from streams.kafka.service import run_worker

        run_worker(settings, args.stages)
        return 0
    if args.command == "produce":
        from streams.files import collect_messages
        from streams.kafka.io import publish

        messages = collect_messages(args.paths)
        topic = args.topic or settings.topic_raw
        asyncio.run(publish(settings, topic, messages))
        print(f"published {len(messages)} messages to {topic}", file=sys.stderr)
        return 0
    if args.command == "consume":
        from streams.cli.consume import consume

        count = asyncio.run(
            consume(settings, args.topic or settings.topic_enriched, args.max, args.timeout)
        )
        print(f"read {count} records", file=sys.stderr)
        return 0
    if args.command == "status":
        from streams.cli.status import show_status

        urls = args.metrics or [f"http://127.0.0.1:{settings.metrics_port}/metrics"]
        asyncio.run(show_status(settings, urls, args.once, args.json, args.interval))
        return 0
    if args.command == "dlq":
        from streams.cli.replay import letters_from_file, replay, with_codes, with_headers

        notes = []
        if args.file:
            letters, unmatched = asyncio.run(with_headers(settings, letters_from_file(args.file)))
            if unmatched:
                notes.append(f"{unmatched} not in {settings.topic_dlq}: sent without headers")
        else:
            letters = asyncio.run(with_codes(settings, args.code))
        sent, skipped = asyncio.run(replay(settings, letters))
        if skipped:
            notes.append(f"{skipped} skipped: their payload was truncated")
        note = f" ({'; '.join(notes)})" if notes else ""
        print(f"replayed {sent} dead letters to {settings.topic_raw}{note}", file=sys.stderr)
        return 0
    from streams.cli.run import demo

    return demo(settings, args.seeds, args.timeout)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    kafka_log = logging.getLogger("aiokafka")
    last_error = LastError()
    kafka_log.addHandler(last_error)
    # Short-lived commands report a Kafka failure once, as one line, not as client chatter.
    kafka_log.propagate = args.command == "worker"
    try:
        settings = load_settings()
        redact(secrets_of(settings))
        return dispatch(args, settings)
    except ConfigError as error:
        print(f"streams: error: {error}", file=sys.stderr)
        return 2
    except (StreamsError, KafkaError) as error:
        reason = f" ({last_error.message})" if last_error.message else ""
        print(f"streams: error: {error}{reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
