"""Canteen payments per second end to end, beside PostgreSQL's own one-payment-per-transaction rate.

Usage: ``python benchmarks/card_pay.py [--n 10000] [--direct 3000] [--tills 4] [--inflight 400] [--quick]``

Method (printed with the results):

1. direct: one psycopg connection runs the debit-and-ledger transaction the hub runs for a
   payment (lock the wallet row ``FOR UPDATE``, insert the ledger transaction, insert its two
   entries, update the wallet's balance), one ``COMMIT`` per payment, as fast as it can.
2. end to end: ``python -m hub.ingest.runner`` (a separate process, the production handlers, so
   ``pay`` is ``hub.services.wallet.handle_pay``) on the same PostgreSQL; several till clients
   (paho, MQTT 5) publish ``pay`` requests at QoS 1 with a response topic and correlation data,
   keeping ``--inflight`` requests outstanding in all; the clock runs from the first publish to
   the last answer received by the tills.

Both use a private PostgreSQL 15 (fsync and synchronous_commit on) and a private Mosquitto on
loopback; everything shares the machine's cores. Afterwards the ledger is checked: every approved
payment is in it once, and ``verify_ledger`` finds nothing. The run is bounded (it gives up when
no answer comes for 30 s) and removes its servers and files.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.db.engine import make_engine  # noqa: E402
from hub.db.ledger import TransactionRow  # noqa: E402
from hub.db.migrate import upgrade_to_head  # noqa: E402
from hub.db.people import CardRow, SchoolRow, StudentRow  # noqa: E402
from hub.services.ledger import top_up, verify_ledger  # noqa: E402
from protocol import Pay, topics  # noqa: E402
from smartschool_cli.localservers.mosquitto import Mosquitto, mosquitto_binary  # noqa: E402
from smartschool_cli.localservers.postgres import Postgres, postgres_bindir  # noqa: E402

SCHOOL = "thpt-chuyen-le-hong-phong"
STUDENTS = 1000
PRICES = (15_000, 25_000)  # bánh mì, cơm tấm
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng", "Bùi")
GIVEN = ("Thị Mai Anh", "Quốc Bảo", "Minh Khoa", "Ngọc Hân", "Gia Huy", "Thanh Trúc")
STALL_S = 30.0


def card_of(i: int) -> str:
    """Student i's EM4100 card."""
    return f"em:{0x0F00000000 + i:010X}"


def seed(url: str) -> None:
    """The school, STUDENTS students with a card each and 10.000.000 đ in their wallets."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(SchoolRow(id=SCHOOL, name="THPT Chuyên Lê Hồng Phong", area="Quận 5"))
        session.flush()
        students = [StudentRow(school=SCHOOL, code=f"HS{i:05d}",
                               full_name=f"{FAMILY[i % 8]} {GIVEN[i % 6]}") for i in range(STUDENTS)]
        session.add_all(students)
        session.flush()
        session.add_all([CardRow(card=card_of(i), student_id=s.id) for i, s in enumerate(students)])
        session.flush()
        for s in students:
            top_up(session, school=SCHOOL, student_id=s.id, amount=10_000_000, channel="cash",
                   reference=f"cash:seed-{s.id}", created_by="bench")
    engine.dispose()


def direct_rate(dsn: str, n: int) -> float:
    """Payments per second, one transaction each, on one connection."""
    with psycopg.connect(dsn) as conn:
        keys = [row[0] for row in conn.execute(
            "SELECT key FROM ledger_accounts WHERE kind = 'wallet'")]
        takings = conn.execute("SELECT id FROM ledger_accounts WHERE kind='takings'").fetchone()
        if takings is None:
            takings = conn.execute(
                "INSERT INTO ledger_accounts (key, school, kind, balance) VALUES (%s, %s, "
                "'takings', 0) RETURNING id", (f"takings:{SCHOOL}", SCHOOL)).fetchone()
        conn.commit()
        assert takings is not None
        rng = random.Random(1)
        started = time.perf_counter()
        for i in range(n):
            amount = rng.choice(PRICES)
            wallet, _ = conn.execute("SELECT id, balance FROM ledger_accounts WHERE key = %s "
                                     "FOR UPDATE", (rng.choice(keys),)).fetchone()  # type: ignore[misc]
            (txn,) = conn.execute(
                "INSERT INTO ledger_transactions (kind, reference, school, wallet_id, amount, ts, "
                "offline, flagged, created_by, device, card, note) VALUES ('purchase', %s, %s, "
                "%s, %s, %s, false, false, 'bench', 'direct', '', '') RETURNING id",
                (f"direct:{i}", SCHOOL, wallet, amount, datetime.now(UTC))).fetchone()  # type: ignore[misc]
            conn.execute("INSERT INTO ledger_entries (transaction_id, account_id, amount) "
                         "VALUES (%s, %s, %s), (%s, %s, %s)",
                         (txn, wallet, -amount, txn, takings[0], amount))
            conn.execute("UPDATE ledger_accounts SET balance = balance - %s WHERE id = %s",
                         (amount, wallet))
            conn.commit()
        return n / (time.perf_counter() - started)


class Tills:
    """Till clients keeping ``inflight`` pay requests outstanding in all; timing and latencies."""

    def __init__(self, broker: Mosquitto, tills: int, inflight: int) -> None:
        self.clients: list[mqtt.Client] = []
        self.window = threading.Semaphore(inflight)
        self.sent: dict[bytes, float] = {}
        self.latencies: list[float] = []
        self.codes: dict[str, int] = {}
        self.lock = threading.Lock()
        self.last_answer = time.monotonic()
        for k in range(tills):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"till-{k}",
                                 protocol=mqtt.MQTTv5)
            client.max_inflight_messages_set(max(20, inflight))
            client.on_message = self._on_answer
            subscribed = threading.Event()
            client.on_subscribe = lambda *args, ev=subscribed: ev.set()
            client.connect(broker.host, broker.port)
            client.loop_start()
            client.subscribe(topics.resp(SCHOOL, f"can-tin-{k}"), qos=1)
            if not subscribed.wait(10):
                raise RuntimeError("till could not subscribe")
            self.clients.append(client)

    def _on_answer(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        code = re.search(rb'"code":"([^"]+)"', msg.payload)
        with self.lock:
            sent = self.sent.pop(msg.properties.CorrelationData, None)
            if sent is None:  # an answer to a warm-up resend
                self.window.release()
                return
            self.latencies.append(now - sent)
            key = code.group(1).decode() if code else "?"
            self.codes[key] = self.codes.get(key, 0) + 1
            self.last_answer = now
        self.window.release()

    def send(self, k: int, pay: Pay) -> None:
        """Publish one request from till ``k`` once the window has room."""
        while not self.window.acquire(timeout=1):
            if time.monotonic() - self.last_answer > STALL_S:
                raise RuntimeError(f"no answer for {STALL_S}s")
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = topics.resp(SCHOOL, f"can-tin-{k}")
        props.CorrelationData = str(pay.id).encode()
        with self.lock:
            self.sent[props.CorrelationData] = time.monotonic()
        self.clients[k].publish(topics.req(SCHOOL, f"can-tin-{k}"), pay.to_json(), qos=1,
                                properties=props)

    def answered(self) -> int:
        """How many answers arrived."""
        with self.lock:
            return len(self.latencies)

    def close(self) -> None:
        """Disconnect every till."""
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


def payments(n: int, seed_: int = 2) -> list[Pay]:
    """N pay requests from random students (bánh mì or cơm tấm)."""
    rng = random.Random(seed_)
    now = datetime.now(UTC).astimezone()
    return [Pay(id=uuid.UUID(int=rng.getrandbits(128), version=4), ts=now, device="till-1",
                card=card_of(rng.randrange(STUDENTS)), amount=rng.choice(PRICES))
            for _ in range(n)]


def end_to_end(broker: Mosquitto, tills: int, inflight: int, n: int) -> tuple[float, Tills]:
    """Payments per second through the tills, the broker, the hub and PostgreSQL."""
    client = Tills(broker, tills, inflight)
    try:
        warm = payments(1, seed_=99)[0]  # the hub is ready once it answers
        deadline = time.monotonic() + 60
        while client.answered() == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the hub never answered")
            client.send(0, warm)
            time.sleep(1.0)  # a resend interval, like a till's retry; not a wait for luck
        client.latencies.clear()
        client.codes.clear()
        batch = payments(n)
        threads = [threading.Thread(target=lambda k=k: [client.send(k, p) for p in batch[k::tills]],
                                    name=f"till-{k}") for k in range(tills)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while client.answered() < n:
            if time.monotonic() - client.last_answer > STALL_S:
                raise RuntimeError(f"stalled at {client.answered()} of {n} answers")
            time.sleep(0.05)
        elapsed = max(client.last_answer - started, 1e-9)
        for thread in threads:
            thread.join(10)
        return n / elapsed, client
    finally:
        client.close()


def machine(dsn: str) -> str:
    """One line about the machine and the servers."""
    model = "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1).strip() if found else model
    mosq = subprocess.run([mosquitto_binary() or "mosquitto", "-h"], capture_output=True,
                          text=True).stdout
    mosq_version = re.search(r"version (\S+)", mosq)
    with psycopg.connect(dsn) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
    return (f"nproc {os.cpu_count()}, CPU {model}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, PostgreSQL {pg[0] if pg else '?'}, "
            f"Mosquitto {mosq_version.group(1) if mosq_version else '?'}")


def start_hub(broker: Mosquitto, db_url: str, log_path: Path,
              client_id: str = "bench-hub") -> subprocess.Popen[bytes]:
    """``python -m hub.ingest.runner`` on ``db_url`` as a child process, logging to ``log_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SS_")}
    env |= {"SS_MQTT_URL": broker.url, "SS_MQTT_CLIENT_ID": client_id, "SS_DB_URL": db_url,
            "SS_MQTT_SHARED": "false", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "hub.ingest.runner"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log_path.open("w"))


def stop_hub(hub: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the hub (it drains and disconnects), SIGKILL it after 30 s."""
    if hub is None or hub.poll() is not None:
        return
    hub.send_signal(signal.SIGTERM)
    try:
        hub.wait(30)
    except subprocess.TimeoutExpired:
        hub.kill()
        hub.wait(10)


def hub_troubles(log_path: Path) -> list[str]:
    """The WARNING and ERROR lines of a hub's log."""
    return [line for line in log_path.read_text().splitlines()
            if " WARNING " in line or " ERROR " in line]


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values (nearest rank)."""
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


@dataclass(frozen=True, slots=True)
class PayResult:
    """What the payment measurement found."""

    direct: float
    rate: float
    p50_ms: float
    p99_ms: float
    codes: dict[str, int]
    recorded: int
    problems: list[str]
    troubles: list[str]

    @property
    def ratio(self) -> float:
        """End-to-end rate over the direct rate (target >= 1.0)."""
        return self.rate / self.direct

    @property
    def consistent(self) -> bool:
        """Every approved payment is in the ledger once and the ledger checks out."""
        return self.recorded == self.codes.get("approved", 0) and not self.problems


def measure_payments(postgres: Postgres, broker: Mosquitto, work: Path, *, n: int, direct: int,
                     tills: int, inflight: int, log: Callable[[str], None] = print) -> PayResult:
    """Seed a database, measure the direct rate, then the end-to-end rate through a hub."""
    postgres.create_database("cardpay")
    url, dsn = postgres.url("cardpay"), postgres.dsn("cardpay")
    upgrade_to_head(url)
    seed(url)
    log(f"direct: {direct} payments, one transaction each, one connection ...")
    direct_ = direct_rate(dsn, direct)
    hub_log = work / "hub-pay.log"
    hub = start_hub(broker, url, hub_log, "bench-hub-pay")
    try:
        log(f"end to end: {n} payments, {tills} tills, {inflight} in flight ...")
        rate, client = end_to_end(broker, tills, inflight, n)
    finally:
        stop_hub(hub)
    lat = sorted(client.latencies)
    engine = make_engine(url)
    with Session(engine) as session:
        recorded = session.scalar(select(func.count()).select_from(TransactionRow).where(
            TransactionRow.kind == "purchase", TransactionRow.reference.like("req:%"))) or 0
        problems = verify_ledger(session)
    engine.dispose()
    return PayResult(direct_, rate, percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000,
                     dict(sorted(client.codes.items())), recorded - 1,  # minus the warm-up
                     problems, hub_troubles(hub_log))


def main() -> None:
    """Run both measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="payments end to end")
    parser.add_argument("--direct", type=int, default=3_000, help="payments run directly")
    parser.add_argument("--tills", type=int, default=4)
    parser.add_argument("--inflight", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="5,000 and 2,000 payments")
    args = parser.parse_args()
    if args.quick:
        args.n, args.direct = 5_000, 2_000
    if postgres_bindir() is None or mosquitto_binary() is None:
        raise SystemExit("needs PostgreSQL and Mosquitto (scripts/bootstrap.sh)")
    work = Path(tempfile.mkdtemp(prefix="bench-card-pay-"))
    postgres, broker = Postgres(work / "pg"), Mosquitto(work / "mosquitto")
    try:
        postgres.start()
        broker.start()
        print(f"machine: {machine(postgres.dsn())}")
        result = measure_payments(postgres, broker, work, n=args.n, direct=args.direct,
                                  tills=args.tills, inflight=args.inflight,
                                  log=lambda text: print(text, flush=True))
        print()
        print(f"{'what':<58} {'payments/s':>11}")
        print(f"{'PostgreSQL direct, 1 transaction per payment, 1 connection':<58} "
              f"{result.direct:>11,.0f}")
        print(f"{'end to end: tills -> Mosquitto -> hub -> PostgreSQL -> tills':<58} "
              f"{result.rate:>11,.0f}")
        print(f"{'ratio end to end / direct (target >= 1.0)':<58} {result.ratio:>11.2f}")
        print(f"latency end to end (publish to answer): p50 {result.p50_ms:.1f} ms, "
              f"p99 {result.p99_ms:.1f} ms")
        print(f"answers: {result.codes}; purchases in the ledger: {result.recorded} "
              f"(+1 warm-up); ledger check: {result.problems[:3] or 'ok'}")
        print(f"hub warnings/errors: {len(result.troubles)}", *result.troubles[:5], sep="\n  ")
        print(f"load average during the run: {os.getloadavg()}")
        if not result.consistent:
            raise SystemExit("ledger does not match the answers")
    finally:
        broker.kill()
        postgres.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
