"""DedupIndex verdicts: exact and near duplicates, roots only, stored verdicts, expiry."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from streams.records import Verdict
from streams.stages.dedup.index import DedupIndex
from streams.stages.dedup.similarity import band_keys, normalise, shingle_hashes, signature
from tests.unit.synthetic import edit

DAY = 24 * 3600.0
T0 = 1_700_000_000.0
RETENTION = 7 * DAY
BUCKET = 3600.0


class JsonTable(MutableMapping[str, Any]):
    """Stores values as JSON text, like a faust table: non-JSON values and in-place mutation
    of a value that was read (which a table would not persist) both break the tests."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def __getitem__(self, key: str) -> Any:
        return json.loads(self.data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        assert isinstance(key, str)
        self.data[key] = json.dumps(value, allow_nan=False)

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def make_index(**options: Any) -> tuple[DedupIndex, dict[str, JsonTable]]:
    tables = {name: JsonTable() for name in ("verdicts", "roots")}
    defaults: dict[str, Any] = {"threshold": 0.5, "retention_seconds": RETENTION}
    return DedupIndex(**tables, **(defaults | options)), tables


@pytest.fixture
def index() -> DedupIndex:
    return make_index()[0]


def words(seed: int, count: int = 300) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(count)
    ]


def article(seed: int, count: int = 300) -> str:
    return " ".join(words(seed, count))


def cjk_article(seed: int, count: int = 400) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(count)) + "。"


UNIQUE = Verdict("unique", None, None)


def test_first_article_is_unique(index: DedupIndex) -> None:
    assert index.check("a", article(1), T0) == UNIQUE


def test_exact_duplicate_ignores_case_punctuation_and_spacing(index: DedupIndex) -> None:
    body = article(1)
    index.check("a", body, T0)
    styled = body.upper().replace(" ", ",  ", 50)
    assert index.check("b", styled, T0 + 1) == Verdict("exact_duplicate", "a", 1.0)


def test_near_duplicate_of_an_edited_copy(index: DedupIndex) -> None:
    index.check("a", article(1), T0)
    verdict = index.check("b", edit(article(1), 0.10, seed=2), T0 + 1)
    assert verdict.status == "near_duplicate"
    assert verdict.duplicate_of == "a"
    assert verdict.similarity is not None
    assert 0.5 <= verdict.similarity < 1.0


def test_distinct_articles_are_unique(index: DedupIndex) -> None:
    for seed in range(20):
        assert index.check(f"id{seed}", article(seed), T0 + seed) == UNIQUE


def test_short_and_empty_bodies() -> None:
    index, _ = make_index()
    assert index.check("a", "Breaking!", T0) == UNIQUE
    assert index.check("b", "breaking", T0) == Verdict("exact_duplicate", "a", 1.0)
    assert index.check("c", "Other news", T0) == UNIQUE
    assert index.check("d", "!!!", T0) == UNIQUE
    assert index.check("e", "???", T0) == Verdict("exact_duplicate", "d", 1.0)


def test_only_roots_are_matched_so_there_are_no_chains() -> None:
    index, tables = make_index()
    p, q, r, s, t, u = (words(seed, 100) for seed in range(6))
    first = " ".join(p + q + r + s)
    second = " ".join(q + r + s + t)  # J(first, second) ~ 0.6
    third = " ".join(r + s + t + u)  # J(second, third) ~ 0.6, J(first, third) ~ 0.33
    assert index.check("A", first, T0) == UNIQUE
    near = index.check("B", second, T0 + 1)
    assert (near.status, near.duplicate_of) == ("near_duplicate", "A")
    assert "B" not in tables["roots"]
    assert index.check("C", third, T0 + 2) == UNIQUE
    again = index.check("D", second, T0 + 3)
    assert again.status == "near_duplicate"
    assert again.duplicate_of in {"A", "C"}


def test_known_id_gets_its_stored_verdict(index: DedupIndex) -> None:
    index.check("a", article(1), T0)
    first = index.check("b", edit(article(1), 0.05, seed=2), T0 + 1)
    assert index.check("b", article(99), T0 + 2) == first
    assert index.check("a", article(1), T0 + 3) == UNIQUE


def test_a_root_is_never_a_duplicate_of_itself_even_without_its_verdict() -> None:
    index, tables = make_index()
    index.check("a", article(1), T0)
    del tables["verdicts"]["a"]
    assert index.check("a", article(1), T0 + 1) == UNIQUE
    assert index.check("a", edit(article(1), 0.05, seed=2), T0 + 2) == UNIQUE


def test_expired_roots_stop_matching_before_and_after_expire() -> None:
    index, tables = make_index(retention_seconds=RETENTION, bucket_seconds=BUCKET)
    body = article(1)
    index.check("a", body, T0)
    late = T0 + RETENTION
    assert index.check("b", body, late) == UNIQUE
    assert index.check("c", edit(body, 0.05, seed=2), late + 1).duplicate_of == "b"
    assert index.expire(late + RETENTION + BUCKET) == 3
    assert all(len(table) == 0 for table in tables.values())
    assert index.check("d", body, late + RETENTION + BUCKET) == UNIQUE


def test_expire_removes_only_what_ran_out() -> None:
    index, tables = make_index(retention_seconds=RETENTION, bucket_seconds=BUCKET)
    index.check("old", article(1), T0)
    index.check("old-copy", article(1), T0 + 10)
    index.check("new", article(2), T0 + 2 * DAY)
    assert index.expire(T0 + RETENTION) == 0
    assert index.expire(T0 + RETENTION + BUCKET) == 2
    assert set(tables["verdicts"]) == {"new"}
    assert set(tables["roots"]) == {"new"}
    copy = index.check("new-copy", edit(article(2), 0.05, seed=3), T0 + 3 * DAY)
    assert copy.duplicate_of == "new"
    assert index.expire(T0 + 10 * DAY + BUCKET) == 2
    assert all(len(table) == 0 for table in tables.values())
    assert index.expire(T0 + 30 * DAY) == 0


def test_an_id_seen_again_after_expiry_keeps_its_new_entries() -> None:
    index, tables = make_index(retention_seconds=RETENTION, bucket_seconds=BUCKET)
    index.check("a", article(1), T0)
    assert index.check("a", article(2), T0 + RETENTION + 1) == UNIQUE
    assert index.expire(T0 + RETENTION + BUCKET) == 0
    assert "a" in tables["roots"]
    assert index.check("b", article(2), T0 + RETENTION + 2) == Verdict("exact_duplicate", "a", 1.0)
    assert index.check("c", article(1), T0 + RETENTION + 3) == UNIQUE


def test_a_time_bucket_of_many_articles_expires_whole() -> None:
    index, tables = make_index(retention_seconds=RETENTION, bucket_seconds=BUCKET)
    for n in range(150):
        index.check(f"id{n}", article(n, 30), T0 + n)
    assert index.expire(T0 + RETENTION) == 0
    assert index.expire(T0 + RETENTION + BUCKET) == 150
    assert len(tables["verdicts"]) == len(tables["roots"]) == 0


def test_cjk_articles() -> None:
    index, _ = make_index()
    body = cjk_article(1)
    assert index.check("a", body, T0) == UNIQUE
    assert index.check("b", body.replace("。", "\uff01"), T0 + 1) == Verdict(
        "exact_duplicate", "a", 1.0
    )
    chars = list(body)
    for i in range(0, len(chars), 20):
        chars[i] = "字"
    near = index.check("c", "".join(chars), T0 + 2)
    assert (near.status, near.duplicate_of) == ("near_duplicate", "a")
    assert index.check("d", cjk_article(2), T0 + 3) == UNIQUE


def test_same_input_order_gives_same_verdicts_and_state() -> None:
    stream = [
        (f"id{n}", edit(article(n % 7), 0.04 * (n % 3) if n >= 7 else 0.0, seed=n), T0 + n)
        for n in range(40)
    ]
    runs = []
    for _ in range(2):
        index, tables = make_index()
        verdicts = [index.check(*message) for message in stream]
        runs.append((verdicts, {name: dict(table.data) for name, table in tables.items()}))
    assert runs[0] == runs[1]
    assert sum(v.status == "unique" for v in runs[0][0]) == 7


def test_a_crowded_bucket_gives_its_earliest_roots_whatever_order_they_came_in() -> None:
    copies = [(f"id{n}", edit(article(1), 0.02, seed=n), T0 + n) for n in range(10)]
    query = index_keys(edit(article(1), 0.02, seed=99))
    found = []
    for order in (copies, copies[::-1], copies[3:] + copies[:3]):
        # threshold 1.0: no copy matches another, so each becomes a root
        index, tables = make_index(threshold=1.0, max_bucket_roots=2)
        for message in order:
            index.check(*message)
        assert len(tables["roots"]) == 10
        found.append(sorted(index.candidates("query", query, T0 + 20)))
    assert found[0] == found[1] == found[2]
    assert 2 <= len(found[0]) < 10


def index_keys(body: str) -> list[str]:
    return band_keys(signature(shingle_hashes(normalise(body))))


def test_rebuilt_lookups_give_the_verdicts_the_live_ones_give() -> None:
    """A restarted worker rebuilds the lookups from the restored tables: from then on it
    judges as the worker that never stopped."""
    stream = [
        (f"id{n}", edit(article(n % 9), 0.05 * (n % 3) if n >= 9 else 0.0, seed=n), T0 + n * BUCKET)
        for n in range(60)
    ]
    live, tables = make_index(retention_seconds=20 * BUCKET, bucket_seconds=BUCKET)
    for message in stream[:30]:
        live.check(*message)
    live.expire(T0 + 30 * BUCKET)
    restored = {name: JsonTable() for name in tables}
    for name, table in tables.items():
        restored[name].data = dict(table.data)
    rebuilt = DedupIndex(
        **restored, threshold=0.5, retention_seconds=20 * BUCKET, bucket_seconds=BUCKET
    )
    for message in stream[30:]:
        assert rebuilt.check(*message) == live.check(*message)
        _, _, timestamp = message
        assert rebuilt.expire(timestamp) == live.expire(timestamp)
    assert restored["verdicts"].data == tables["verdicts"].data
    assert restored["roots"].data == tables["roots"].data


@pytest.mark.parametrize(
    "options",
    [{"threshold": 0.0}, {"threshold": 1.5}, {"retention_seconds": 0}, {"max_bucket_roots": 0}],
)
def test_rejects_invalid_settings(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        make_index(**options)
