"""`harmony simulate` as a user runs it: to stdout and to the real broker."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from lakehouse.codec import decode
from lakehouse.schemas import DroneReport
from lakehouse.settings import Settings
from testkit.commands import HARMONY


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([HARMONY, "simulate", *args], capture_output=True, timeout=300, check=False)


def test_dry_run_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    args = ["--start", "2026-09-01", "--count", "3000", "--drones", "8", "--dry-run"]
    a = run(*args, "--ground-truth", str(tmp_path / "a.jsonl"))
    b = run(*args, "--ground-truth", str(tmp_path / "b.jsonl"))
    assert a.returncode == 0, a.stderr.decode()
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 3000
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert run(*args[:-1], "--seed", "43", "--dry-run").stdout != a.stdout


def test_live_dry_run_stamps_now(tmp_path: Path) -> None:
    before = time.time()
    out = run("--count", "20", "--rate", "200", "--dry-run", "--ground-truth", str(tmp_path / "t.jsonl"))
    assert out.returncode == 0, out.stderr.decode()
    times = [decode(DroneReport, line).event_time.timestamp() for line in out.stdout.splitlines()]
    assert len(times) == 20 and all(before - 1 <= t <= time.time() + 1 for t in times)


def test_a_backfill_into_the_future_is_refused_unless_asked(tmp_path: Path) -> None:
    start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    args = [
        "--start",
        start,
        "--days",
        "1",
        "--drones",
        "4",
        "--dry-run",
        "--ground-truth",
        str(tmp_path / "t"),
    ]
    refused = run(*args)
    assert refused.returncode != 0 and b"after now" in refused.stderr and refused.stdout == b""
    assert b"Traceback" not in refused.stderr
    allowed = run(*args, "--allow-future")
    assert allowed.returncode == 0, allowed.stderr.decode()
    assert len(allowed.stdout.splitlines()) == 86_400 // 10 * 4
    past = run(
        "--start",
        start,
        "--count",
        "100",
        "--drones",
        "4",
        "--dry-run",
        "--ground-truth",
        str(tmp_path / "p"),
    )
    assert past.returncode == 0, "a backfill up to now is fine"


def test_bad_options_are_refused_clearly() -> None:
    out = run("--start", "2026-09-01", "--dry-run")
    assert out.returncode != 0 and b"--days or --count" in out.stderr
    for rate in ("0", "-5", "nan", "inf"):  # 0 divided, -5 and nan ran forever, producing nothing
        out = run("--rate", rate, "--count", "3", "--dry-run")
        assert out.returncode == 2 and b"--rate must be a positive number" in out.stderr, rate
        assert not out.stdout


def consume_all(settings: Settings, topic: str) -> list[tuple[bytes, bytes]]:
    md = AdminClient(settings.kafka.client()).list_topics(topic, timeout=10)
    consumer = Consumer(
        {
            **settings.kafka.client(),
            "group.id": topic,
            "enable.auto.commit": False,
        }
    )
    parts = [TopicPartition(topic, p) for p in md.topics[topic].partitions]
    ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
    consumer.assign([TopicPartition(topic, p.partition, 0) for p in parts])
    got: list[tuple[bytes, bytes]] = []
    done: set[int] = {p for p, end in ends.items() if end == 0}
    deadline = time.monotonic() + 60
    while len(done) < len(parts) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        got.append((msg.key(), msg.value()))
        if msg.offset() + 1 >= ends[msg.partition()]:
            done.add(msg.partition())
    consumer.close()
    return got


def test_delivers_exactly_the_count_it_reports(stack: Settings, fresh_topic: str, tmp_path: Path) -> None:
    out = run(
        "--start",
        "2026-09-01",
        "--count",
        "20000",
        "--topic",
        fresh_topic,
        "--ground-truth",
        str(tmp_path / "t.jsonl"),
    )
    assert out.returncode == 0, out.stderr.decode()
    summary = re.search(rb"delivered ([\d,]+), failed ([\d,]+), pending ([\d,]+)", out.stderr)
    assert summary, out.stderr.decode()
    delivered = int(summary.group(1).replace(b",", b""))
    assert delivered == 20000 and summary.group(2) == b"0" and summary.group(3) == b"0"
    messages = consume_all(stack, fresh_topic)
    assert len(messages) == delivered
    ids = {orjson.loads(v)["report_id"] for _, v in messages}
    assert len(ids) == delivered, "no report twice"
    assert all(orjson.loads(v)["drone_id"].encode() == k for k, v in messages), "keyed by drone id"
    dry = run(
        "--start", "2026-09-01", "--count", "20000", "--dry-run", "--ground-truth", str(tmp_path / "u.jsonl")
    )
    assert sorted(v for _, v in messages) == sorted(dry.stdout.splitlines()), (
        "Kafka got exactly the dry-run bytes"
    )


def test_a_missing_topic_is_refused_before_any_report(stack: Settings, tmp_path: Path) -> None:
    out = run("--count", "10", "--topic", "no-such-topic", "--ground-truth", str(tmp_path / "t.jsonl"))
    assert out.returncode == 1 and b"no-such-topic" in out.stderr and b"Unknown topic" in out.stderr
    assert b"produced" not in out.stderr, "refused before producing anything"


def test_two_processes_share_the_fleet_by_drone_and_reproduce_their_reports(
    stack: Settings, fresh_topic: str, tmp_path: Path
) -> None:
    def simulate(topic: str, truth: Path) -> subprocess.CompletedProcess[bytes]:
        return run("--start", "2026-09-05", "--count", "30000", "--riots-per-day", "100", "--processes", "2",
                   "--seed", "5", "--topic", topic, "--ground-truth", str(truth))  # fmt: skip

    out = simulate(fresh_topic, tmp_path / "t.jsonl")
    assert out.returncode == 0, out.stderr.decode()
    assert b"delivered 30,000, failed 0, pending 0" in out.stderr, out.stderr.decode()
    messages = consume_all(stack, fresh_topic)
    reports = [orjson.loads(v) for _, v in messages]
    assert len({r["report_id"] for r in reports}) == 30000, "every report once"
    per_drone: dict[str, list[str]] = {}
    for r in reports:
        per_drone.setdefault(r["drone_id"], []).append(r["event_time"])
    assert len(per_drone) == 48 and all(t == sorted(t) for t in per_drone.values()), "each drone in order"
    truth = [orjson.loads(line) for line in (tmp_path / "t.jsonl").read_bytes().splitlines()]
    episodes = [t["episode_id"] for t in truth if t["kind"] == "riot"]
    assert episodes and len(episodes) == len(set(episodes)), "the lanes' ground truths merged, each riot once"
    assert not list(tmp_path.glob("t.jsonl.lane*")), "the lanes' parts are removed"
    admin = AdminClient(stack.kafka.client())
    again = f"{fresh_topic}-again"
    admin.create_topics([NewTopic(again, num_partitions=3, replication_factor=1)])[again].result(15)
    try:
        assert simulate(again, tmp_path / "u.jsonl").returncode == 0
        assert sorted(v for _, v in consume_all(stack, again)) == sorted(v for _, v in messages), (
            "the same seed and processes give the same reports"
        )
    finally:
        admin.delete_topics([again])[again].result(15)
