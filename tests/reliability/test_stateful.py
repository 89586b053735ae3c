"""A hypothesis state machine over one ingest lane: produce good and hostile batches, kill the worker,
restart it, partition it from a server and heal, in any order; after every step the whole lake checker.

Bounded in CI (fixed seeds through hypothesis's ``ci`` profile); ``HARMONY_STATEFUL_EXAMPLES`` and
``HARMONY_STATEFUL_STEPS`` make the larger profile for a soak.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import ClassVar

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from lakehouse.catalog import load_catalog
from lakehouse.codec import ContractError, decode
from lakehouse.schemas import DroneReport
from lakehouse.settings import Settings
from lakehouse.tables import purge_namespace
from testkit.checker import check_lake, no_tracebacks
from testkit.ingest_lane import Lane
from testkit.messages import mutated, reports
from testkit.network import SERVERS, Toxics, proxied_env

EXAMPLES = int(os.environ.get("HARMONY_STATEFUL_EXAMPLES", "2"))
STEPS = int(os.environ.get("HARMONY_STATEFUL_STEPS", "6"))


class LakeUnderFaults(RuleBasedStateMachine):
    stack: ClassVar[Settings]

    def __init__(self) -> None:
        super().__init__()
        token = uuid.uuid4().hex[:8]
        self.lane = Lane(
            self.stack,
            f"test-ingest-{token}",
            f"test_{token}",
            f"test-ingest-{token}",
            Path(tempfile.mkdtemp()),
        )
        admin = AdminClient(self.stack.kafka.client())
        admin.create_topics([NewTopic(self.lane.topic, num_partitions=4, replication_factor=1)])[
            self.lane.topic
        ].result(15)
        self.producer = Producer(
            {
                **self.stack.kafka.client(),
                "linger.ms": 5,
                "message.max.bytes": 8_000_000,
            }
        )
        self.toxics = Toxics(self.stack)
        self.ids: set[str] = set()
        self.produced = 0
        self.starts = 0
        self.worker = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        log = self.lane.tmp / "w.log"
        self.log_mark = log.stat().st_size if log.exists() else 0  # where this start's lines begin
        return self.lane.worker("w", env=proxied_env(self.stack))

    # ---- rules -------------------------------------------------------------------------------------
    @rule(batch=st.lists(mutated(reports()), min_size=1, max_size=60))
    def produce(self, batch: list[bytes]) -> None:
        """Good and hostile messages; a valid one whose report id was already used is left out (ids are
        unique on the wire by contract)."""
        for raw in batch:
            try:
                report_id = decode(DroneReport, raw).report_id
            except ContractError:
                report_id = None
            if report_id is not None:
                if report_id in self.ids:
                    continue
                self.ids.add(report_id)
            self.producer.produce(self.lane.topic, value=raw, key=str(self.produced % 7).encode())
            self.produced += 1
        assert self.producer.flush(30) == 0

    @rule()
    def kill_worker(self) -> None:
        self.worker.kill()
        self.worker.wait(30)
        self.worker = self._start()

    @rule()
    def restart_worker(self) -> None:
        """A graceful restart of a running worker (a SIGTERM during its start-up is a kill, not a stop)."""
        deadline = time.monotonic() + 60
        while "assigned [" not in (self.lane.tmp / "w.log").read_bytes()[self.log_mark :].decode(
            errors="replace"
        ):
            assert time.monotonic() < deadline, f"the worker never started:\n{self.lane.log('w')[-3000:]}"
            time.sleep(0.2)
        self.worker.send_signal(signal.SIGTERM)
        assert self.worker.wait(60) == 0, self.lane.log("w")[-3000:]
        self.worker = self._start()

    @rule(server=st.sampled_from(SERVERS), seconds=st.integers(2, 8))
    def partition_and_heal(self, server: str, seconds: int) -> None:
        with self.toxics.partition(server):
            time.sleep(seconds)

    # ---- after every step --------------------------------------------------------------------------
    @invariant()
    def the_lake_is_the_topic(self) -> None:
        assert self.worker.poll() is None, f"the worker exited:\n{self.lane.log('w')[-3000:]}"
        if self.produced == 0:
            return
        self.lane.wait_landed(self.produced, timeout_s=120)
        no_tracebacks(self.lane.log("w"))
        checked = check_lake(self.stack, self.lane.topic, self.lane.namespace, self.lane.group)
        assert checked.reports + checked.dead_letters == self.produced

    def teardown(self) -> None:
        self.toxics.reset()
        if self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait(10)
        admin = AdminClient(self.stack.kafka.client())
        admin.delete_topics([self.lane.topic])[self.lane.topic].result(15)
        purge_namespace(load_catalog(self.stack), self.lane.namespace)


def test_any_sequence_of_batches_and_faults_keeps_the_lake_exact(stack: Settings) -> None:
    LakeUnderFaults.stack = stack
    run_state_machine_as_test(
        LakeUnderFaults,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
