"""Sweep benchmark: the scheduler's sweeps on PostgreSQL with 100,000 enrolled patients.

    .venv/bin/python bench/sweeps.py [--patients 100000] [--due 1000] [--runs 5]
                                     [--profile DIR] [--json FILE] [--keep]

What it does, in order (results: docs/performance-alerts.md):

1. drops and recreates the PostgreSQL database ``--database`` (default cartwatch_bench_sweeps) on
   127.0.0.1:5432 and runs ``cartwatch db upgrade`` (helpers from bench/intake.py);
2. bulk-loads with COPY: ``--teams`` care teams (two clinicians, an on-call contact, a fallback
   for every other team, one webhook target pointing at a loopback WebhookReceiver started
   here), ``--patients`` enrolled (active) patients with logins, 30 % with one caregiver and
   10 % with two, plus ``--completed`` patients who finished monitoring earlier. Of the enrolled:
   ``--due`` have a check-in step due now (a quarter each: already checked in, patient reminder
   due, caregiver reminder due, team notification due), ``--window-ends`` have a monitoring
   window that closed minutes ago, and the rest have their next check-in action spread over the
   next three weeks. Flags: ``--due`` open urgent/emergency flags past their escalation deadline
   (steps 0-2), ``--flags-not-due`` open flags not yet due, and ``--flags-closed`` acknowledged,
   resolved or watch flags (no deadline). Outbox: ``--due`` pending webhook rows due now,
   ``--outbox-history`` sent rows;
3. times, with ``time.perf_counter()``, each sweep called the way the scheduler calls it, with
   ``sessions = sessionmaker(bind=models.db.make_engine(url))`` and ``now = datetime.now(UTC)``:
   ``checkin_sweep``, ``escalate_unacknowledged``, ``end_monitoring_windows`` (target: <= 200 ms
   each), and, for reference, ``dispatch_outbox`` sending the due webhooks to the receiver.
   Each runs ``--runs`` times; before every run the due sets are restored (due columns reset,
   rows the previous run added deleted, VACUUM ANALYZE, CHECKPOINT), outside the timing;
4. runs each sweep once more (untimed) counting the SQL statements it sends, and shows
   ``EXPLAIN (ANALYZE, BUFFERS)`` of the due queries exactly as the sweeps sent them;
5. with ``--profile DIR``, samples each sweep with py-spy (needs .venv/bin/py-spy) and prints
   where the time goes.

Only loopback addresses are used; every loop is bounded; the database is dropped unless --keep.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import (  # noqa: E402
    wait_idle,
    connect,
    drop_database,
    log,
    machine,
    migrate,
    recreate_database,
    sqlalchemy_url,
)

VENV_BIN = Path(sys.executable).parent
ZONES = ("Europe/Madrid", "America/New_York", "Europe/London", "America/Chicago",
         "America/Los_Angeles")
PRODUCTS = ("kymriah", "yescarta", "breyanzi", "carvykti", "abecma", "tecartus")
RECEIVER_SECRET = "bench-webhook-secret-" + "s" * 24
TARGET_MS = 200.0


# --- Machine load ---------------------------------------------------------------------------------

# --- Seeding -------------------------------------------------------------------------------------


@dataclass
class SeedState:
    """What the reset needs to restore the due sets, and what the report shows."""

    patient_rows: list[tuple[Any, ...]] = field(default_factory=list)  # due + window-end patients
    flag_rows: list[tuple[int, int, datetime]] = field(default_factory=list)  # id, step, next
    outbox_rows: list[tuple[int, datetime]] = field(default_factory=list)  # id, next_attempt_at
    max_flag_id: int = 0
    max_outbox_id: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def monitoring_end(infusion: date, days: int, zone: str) -> datetime:
    from alerts.checkins import monitoring_end as app_monitoring_end

    return app_monitoring_end(infusion, days, zone).astimezone(UTC)


def seed(database: str, args: argparse.Namespace, rng: random.Random, now: datetime,
         webhook_target: dict[str, str]) -> SeedState:
    from argon2 import PasswordHasher

    started = time.perf_counter()
    state = SeedState()
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(
        "bench password, never used")
    teams = args.teams
    n_active, n_done = args.patients, args.completed
    n_patients = n_active + n_done
    today = now.date()

    # Which enrolled patients are due for what (disjoint sets).
    chosen = rng.sample(range(n_active), args.due + args.window_ends)
    due_checkin = {i: k % 4 for k, i in enumerate(chosen[: args.due])}
    window_end = set(chosen[args.due:])

    user_rows: list[tuple[Any, ...]] = []
    team_rows, member_rows, target_rows = [], [], []
    for t in range(1, teams + 1):
        clinicians = []
        for c in range(2):
            uid = len(user_rows) + 1
            user_rows.append((uid, f"clinician{t}.{c}@bench.example.org", password_hash,
                              "clinician", f"Clinician {t}.{c}", True, now))
            clinicians.append(uid)
        fallback = t % 2 == 0
        team_rows.append((
            t, f"Cellular Therapy Team {t}", f"+1617555{t:04d}", "On-call fellow",
            f"+1617556{t:04d}", f"oncall{t}@bench.example.org",
            "Fallback attending" if fallback else None,
            f"+1617557{t:04d}" if fallback else None,
            f"fallback{t}@bench.example.org" if fallback else None, 5, 15, now, now,
        ))
        member_rows += [(t, uid, now) for uid in clinicians]
        target_rows.append((t, t, "webhook", json.dumps(webhook_target), "team system", True,
                            now))
    first_patient_user = len(user_rows) + 1

    patient_rows: list[tuple[Any, ...]] = []
    for i in range(n_patients):
        pid = i + 1
        team = i % teams + 1
        uid = first_patient_user + i
        zone = ZONES[i % len(ZONES)]
        user_rows.append((uid, f"patient{pid}@bench.example.org", password_hash, "patient",
                          f"Patient {pid}", True, now))
        stage, slot, nxt, last = 0, None, None, now - timedelta(hours=rng.uniform(1, 11))
        times = ["08:00", "14:00", "20:00"] if i % 3 else ["08:00", "20:00"]
        status = "active"
        if i >= n_active:  # finished monitoring earlier this year
            status = "completed"
            infusion = today - timedelta(days=rng.randint(35, 330))
            ends = monitoring_end(infusion, 28, zone)
            last = ends - timedelta(hours=rng.uniform(2, 30))
        elif i in window_end:  # window closed at local midnight today
            local_today = now.astimezone(ZoneInfo(zone)).date()
            infusion = local_today - timedelta(days=29)
            ends = monitoring_end(infusion, 28, zone)
        else:
            infusion = today - timedelta(days=rng.randint(0, 27))
            ends = monitoring_end(infusion, 28, zone)
            if i in due_checkin:
                kind = due_checkin[i]  # 0 checked in, 1 patient, 2 caregivers, 3 team due
                stage = max(kind - 1, 0)
                delay = timedelta(minutes=(0, 0, 30, 60)[kind])
                local = (now - delay - timedelta(minutes=rng.uniform(1, 10))).astimezone(
                    ZoneInfo(zone)).replace(second=0, microsecond=0)
                times = sorted({local.strftime("%H:%M"),
                                (local + timedelta(hours=12)).strftime("%H:%M")})
                slot = local.astimezone(UTC)
                nxt = slot + delay
                last = (slot - timedelta(minutes=rng.uniform(10, 120)) if kind == 0
                        else slot - timedelta(hours=12, minutes=rng.uniform(10, 120)))
            else:
                latest = min(now + timedelta(days=21), ends - timedelta(hours=1))
                earliest = now + timedelta(hours=6)
                if latest > earliest:
                    nxt = earliest + (latest - earliest) * rng.random()
                    slot = nxt
        row = (
            pid, team, uid, f"Patient {pid}", f"M{pid:08d}",
            date(1950 + i % 40, 1 + i % 12, 1 + i % 28), zone, "en", "C",
            PRODUCTS[i % len(PRODUCTS)], infusion, 28, json.dumps(times), None, status,
            now - timedelta(days=30), 1 + 2 * (team - 1), now, slot, stage, nxt, ends, last,
        )
        patient_rows.append(row)
        if i in due_checkin or i in window_end:
            state.patient_rows.append((pid, slot, stage, nxt, status, ends, last))

    caregiver_rows, link_rows = [], []
    for i in range(n_active):
        r = rng.random()
        links = 2 if r < 0.10 else 1 if r < 0.40 else 0
        for _ in range(links):
            uid = len(user_rows) + 1
            user_rows.append((uid, f"caregiver{uid}@bench.example.org", password_hash,
                              "caregiver", f"Caregiver {uid}", True, now))
            link_rows.append((len(link_rows) + 1, i + 1, uid, "family", now,
                              first_patient_user + i))
            caregiver_rows.append(uid)

    # Flags.
    active_ids = [i + 1 for i in range(n_active) if i not in window_end]
    flag_rows: list[tuple[Any, ...]] = []

    def flag(pid: int, rule: str, level: str, status: str, step: int, nxt: datetime | None,
             raised: datetime) -> int:
        fid = len(flag_rows) + 1
        acknowledged = raised + timedelta(minutes=4) if status != "open" else None
        resolved = raised + timedelta(hours=2) if status == "resolved" else None
        flag_rows.append((
            fid, pid, rule, 1, level, 0, json.dumps({"temperature_c": "38.6", "heart_rate": 112}),
            status, None, None, 1, raised, raised, raised - timedelta(minutes=1),
            acknowledged, None, resolved, None, "seen_in_clinic" if resolved else None, None,
            step, nxt,
        ))
        return fid

    for _ in range(args.due):
        level = "emergency" if rng.random() < 0.2 else "urgent"
        step = rng.choices((0, 1, 2), (50, 30, 20))[0]
        raised = now - timedelta(minutes=15 * (step + 1) + rng.uniform(0, 10))
        nxt = now - timedelta(seconds=rng.uniform(1, 600))
        fid = flag(rng.choice(active_ids), "R_FEVER_HYPOTENSION" if level == "emergency"
                   else "R_FEVER", level, "open", step, nxt, raised)
        state.flag_rows.append((fid, step, nxt))
    for _ in range(args.flags_not_due):
        raised = now - timedelta(minutes=rng.uniform(0, 10))
        flag(rng.choice(active_ids), "R_TACHYCARDIA", "urgent", "open", 0,
             raised + timedelta(minutes=15), raised)
    for k in range(args.flags_closed):
        raised = now - timedelta(days=rng.uniform(0.1, 300))
        if k % 4 == 0:
            flag(rng.randint(1, n_patients), "R_HR_ELEVATED", "watch", "open", 0, None, raised)
        else:
            flag(rng.randint(1, n_patients), "R_FEVER", "urgent",
                 "resolved" if k % 4 != 1 else "acknowledged", 0, None, raised)

    # Outbox: due webhook rows, then a sent history.
    outbox_rows: list[tuple[Any, ...]] = []

    def message(status: str, channel: str, target: dict[str, str], created: datetime,
                nxt: datetime, sent: datetime | None, pid: int, fid: int | None) -> int:
        oid = len(outbox_rows) + 1
        payload = {"event": "flags.raised", "level": "urgent",
                   "patient": {"patient_id": pid, "display_name": f"Patient {pid}",
                               "mrn": f"M{pid:08d}", "product": "yescarta",
                               "day_since_infusion": 5},
                   "flags": [{"flag_id": fid, "rule_id": "R_FEVER", "level": "urgent",
                              "inputs": {"temperature_c": "38.6"}}],
                   "recipient": "team system"}
        outbox_rows.append((
            oid, str(uuid.UUID(int=rng.getrandbits(128), version=4)), "flag", channel,
            json.dumps(target), "team system",
            f"[cartwatch] URGENT: Patient {pid} - urgent report",
            f"urgent report: Patient {pid} (patient {pid}, yescarta, day 5 after infusion).\n"
            "- [urgent] R_FEVER: Fever: temperature at or above fever_c. (temperature_c 38.6)\n"
            "Acknowledge in the cartwatch worklist.",
            json.dumps(payload), pid, fid, status, 1 if sent else 0, created, nxt, sent, None,
        ))
        return oid

    n_flags = len(flag_rows)
    for _ in range(args.due):
        created = now - timedelta(seconds=rng.uniform(0.5, 60))
        oid = message("pending", "webhook", webhook_target, created, created, None,
                      rng.choice(active_ids), rng.randint(1, n_flags))
        state.outbox_rows.append((oid, created))
    for _ in range(args.outbox_history):
        created = now - timedelta(days=rng.uniform(0.01, 300))
        channel = rng.choice(("webhook", "email", "sms"))
        target = (webhook_target if channel == "webhook" else
                  {"address": "oncall@bench.example.org"} if channel == "email"
                  else {"number": "+16175560001"})
        message("sent", channel, target, created, created, created + timedelta(seconds=0.2),
                rng.randint(1, n_patients), rng.randint(1, n_flags))

    copies = (
        ("users", "user_id, email, password_hash, role, display_name, is_active, created_at",
         user_rows),
        ("care_teams", "team_id, name, phone, on_call_name, on_call_phone, on_call_email, "
         "fallback_name, fallback_phone, fallback_email, escalate_emergency_minutes, "
         "escalate_urgent_minutes, created_at, updated_at", team_rows),
        ("team_members", "team_id, user_id, added_at", member_rows),
        ("notification_targets", "target_id, team_id, channel, target, label, is_active, "
         "created_at", target_rows),
        ("patients", "patient_id, team_id, user_id, display_name, mrn, date_of_birth, timezone, "
         "language, temperature_unit, product, infusion_date, monitoring_days, checkin_times, "
         "ice_baseline, status, enrolled_at, enrolled_by_user_id, updated_at, checkin_slot_at, "
         "checkin_stage, next_checkin_action_at, monitoring_ends_at, last_report_at",
         patient_rows),
        ("caregiver_links", "link_id, patient_id, caregiver_user_id, relationship, created_at, "
         "invited_by_user_id", link_rows),
        ("flags", "flag_id, patient_id, rule_id, rule_version, level, threshold_version, inputs, "
         "status, first_report_id, last_report_id, occurrences, raised_at, last_seen_at, "
         "data_recorded_at, acknowledged_at, acknowledged_by_user_id, resolved_at, "
         "resolved_by_user_id, outcome, resolution_note, escalation_step, next_escalation_at",
         flag_rows),
        ("outbox", "outbox_id, delivery_id, kind, channel, target, recipient, subject, text, "
         "payload, patient_id, flag_id, status, attempts, created_at, next_attempt_at, sent_at, "
         "last_error", outbox_rows),
    )
    with connect(database) as conn, conn.cursor() as cur:
        for table, columns, rows in copies:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            key = columns.split(",")[0]
            if key.endswith("_id") and table != "team_members":
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'), "
                            f"(SELECT max({key}) FROM {table}))")
            state.counts[table] = len(rows)
        conn.commit()
    with connect(database, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    state.max_flag_id = len(flag_rows)
    state.max_outbox_id = len(outbox_rows)
    state.counts["caregivers"] = len(caregiver_rows)
    state.counts["due_checkins_by_kind"] = dict(Counter(
        ("checked_in", "patient_due", "caregivers_due", "team_due")[k]
        for k in due_checkin.values()))  # type: ignore[assignment]
    state.seconds = time.perf_counter() - started
    return state


def reset(database: str, state: SeedState) -> None:
    """Restore the due sets and delete what sweeps added (outside the timing)."""
    p = list(zip(*state.patient_rows, strict=True)) if state.patient_rows else [[]] * 7
    f = list(zip(*state.flag_rows, strict=True)) if state.flag_rows else [[]] * 3
    o = list(zip(*state.outbox_rows, strict=True)) if state.outbox_rows else [[]] * 2
    with connect(database) as conn:
        conn.execute("DELETE FROM outbox WHERE outbox_id > %s", (state.max_outbox_id,))
        conn.execute("DELETE FROM flag_escalations")
        conn.execute("DELETE FROM flags WHERE flag_id > %s", (state.max_flag_id,))
        conn.execute(
            "UPDATE patients p SET checkin_slot_at = v.slot, checkin_stage = v.stage, "
            "next_checkin_action_at = v.nxt, status = v.status, monitoring_ends_at = v.ends, "
            "last_report_at = v.last FROM unnest(%s::int[], %s::timestamptz[], %s::int[], "
            "%s::timestamptz[], %s::text[], %s::timestamptz[], %s::timestamptz[]) "
            "AS v(id, slot, stage, nxt, status, ends, last) WHERE p.patient_id = v.id",
            [list(column) for column in p],
        )
        conn.execute(
            "UPDATE flags f SET escalation_step = v.step, next_escalation_at = v.nxt "
            "FROM unnest(%s::int[], %s::int[], %s::timestamptz[]) AS v(id, step, nxt) "
            "WHERE f.flag_id = v.id",
            [list(column) for column in f],
        )
        conn.execute(
            "UPDATE outbox o SET status = 'pending', attempts = 0, next_attempt_at = v.nxt, "
            "sent_at = NULL, last_error = NULL "
            "FROM unnest(%s::int[], %s::timestamptz[]) AS v(id, nxt) WHERE o.outbox_id = v.id",
            [list(column) for column in o],
        )
        conn.commit()
    with connect(database, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) patients, flags, flag_escalations, outbox")
        conn.execute("CHECKPOINT")


# --- Measuring -----------------------------------------------------------------------------------


@dataclass
class Sweep:
    name: str
    call: Callable[[], Any]
    targeted: bool  # the 200 ms target applies


def counts_of(result: Any) -> dict[str, Any]:
    if isinstance(result, dict):
        return dict(sorted(result.items()))
    return {"sent": result.sent, "retried": result.retried, "dead": result.dead}


class StatementCounter:
    """Count the SQL statements an engine sends, grouped by their first words and table."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.captured: list[tuple[str, Any]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                 executemany: bool) -> None:
        text = " ".join(statement.split())
        self.captured.append((statement, parameters))
        match = re.match(r"(SELECT .*? FROM (\w+)|INSERT INTO (\w+)|UPDATE (\w+)|DELETE FROM "
                         r"(\w+)|\w+)", text)
        key = text.split(" ")[0]
        if match:
            table = next((g for g in match.groups()[1:] if g), "")
            key = f"{key} {table}".strip()
        self.counts[key] += 1


def summarise_py_spy(path: Path, function: str, top: int = 12) -> str:
    """Share of samples per project function (inclusive) and per frame (self), over the stacks
    that contain ``function`` (py-spy raw format)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    # Project functions, and the ORM calls that cost round trips.
    project = re.compile(r"\((alerts|api|models)/|^(Session\.(flush|get|execute)|"
                         r"SessionTransaction\.commit) \(")
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit() or f"{function} (" not in stack:
                continue
            count = int(count_text)
            frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
            total += count
            for frame in set(frames):
                if project.search(frame):
                    inclusive[frame] += count
            if frames:
                own[frames[-1]] += count
    if not total:
        return f"(no py-spy samples inside {function})"
    lines = [f"py-spy: {total} samples inside {function}; project functions and ORM calls "
             "(inclusive):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines.append("self time (any frame):")
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(8)]
    return "\n".join(lines)


def explain(engine: Any, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
        plan = [row[0] for row in rows]
        conn.rollback()
    return plan


def find_statement(captured: list[tuple[str, Any]], *needles: str) -> tuple[str, Any] | None:
    for statement, parameters in captured:
        flat = " ".join(statement.split())
        if all(n in flat for n in needles):
            return statement, parameters
    return None


def run(args: argparse.Namespace, database: str) -> dict[str, Any]:
    from sqlalchemy import event
    from sqlalchemy.orm import sessionmaker

    from alerts import jobs
    from alerts.channels.webhook import WebhookChannel
    from models.db import make_engine
    from tests.support.receivers import WebhookReceiver

    rng = random.Random(args.seed)
    results: dict[str, Any] = {}
    with WebhookReceiver(secret=RECEIVER_SECRET) as receiver, \
            WebhookChannel(timeout=5.0) as webhook:
        now = datetime.now(UTC)
        log(f"seeding {args.patients} enrolled + {args.completed} completed patients, "
            f"{args.due} due of each kind (bulk COPY)")
        state = seed(database, args, rng, now, receiver.target)
        log(f"seeded in {state.seconds:.0f} s: {state.counts}")
        results["seed"] = {"seconds": round(state.seconds, 1), "rows": state.counts}
        with connect(database) as conn:
            results["table_sizes"] = {
                name: size for name, size in conn.execute(
                    "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                    "WHERE relname IN ('patients', 'flags', 'outbox', 'users', "
                    "'caregiver_links') ORDER BY relname")
            }

        engine = make_engine(sqlalchemy_url(database))
        sessions = sessionmaker(bind=engine)
        with sessions() as session:  # open the pool's first connection, as a running scheduler has
            session.connection()
        channels = {"webhook": webhook}
        sweeps = [
            Sweep("checkin_sweep", lambda: jobs.checkin_sweep(sessions, datetime.now(UTC)), True),
            Sweep("escalate_unacknowledged",
                  lambda: jobs.escalate_unacknowledged(sessions, datetime.now(UTC)), True),
            Sweep("end_monitoring_windows",
                  lambda: jobs.end_monitoring_windows(sessions, datetime.now(UTC)), True),
            Sweep("dispatch_outbox",
                  lambda: jobs.dispatch_outbox(sessions, channels, lambda: datetime.now(UTC)),
                  False),
        ]
        timings: dict[str, Any] = {}
        for sweep in sweeps:
            busy = wait_idle(args.wait_idle)
            runs_ms, counts = [], []
            for n in range(args.runs):
                reset(database, state)
                receiver.clear()
                started = time.perf_counter()
                result = sweep.call()
                elapsed = (time.perf_counter() - started) * 1000
                runs_ms.append(elapsed)
                counts.append(counts_of(result))
                log(f"{sweep.name} run {n + 1}: {elapsed:.1f} ms {counts[-1]}")
            timings[sweep.name] = {
                "runs_ms": [round(v, 1) for v in runs_ms],
                "min_ms": round(min(runs_ms), 1),
                "median_ms": round(statistics.median(runs_ms), 1),
                "max_ms": round(max(runs_ms), 1),
                "counts": counts,
                "targeted": sweep.targeted,
                "webhooks_received_last_run": len(receiver.received),
                "machine_busy_before": round(busy, 3),
            }

        # Statement counts (an extra, untimed run each) and the plans of the due queries.
        captured: dict[str, list[tuple[str, Any]]] = {}
        for sweep in sweeps:
            reset(database, state)
            counter = StatementCounter()
            event.listen(engine, "before_cursor_execute", counter)
            try:
                sweep.call()
            finally:
                event.remove(engine, "before_cursor_execute", counter)
            timings[sweep.name]["statements"] = sum(counter.counts.values())
            timings[sweep.name]["statements_by_kind"] = dict(counter.counts.most_common(12))
            captured[sweep.name] = counter.captured
        results["sweeps"] = timings

        reset(database, state)
        queries = {
            "due check-ins (checkin_sweep)": (
                "checkin_sweep", ("FROM patients", "next_checkin_action_at <=")),
            "due escalations (escalate_unacknowledged)": (
                "escalate_unacknowledged", ("FROM flags", "next_escalation_at <=")),
            "due window ends (end_monitoring_windows)": (
                "end_monitoring_windows", ("FROM patients", "monitoring_ends_at <=")),
            "claim due outbox rows (dispatch_outbox)": (
                "dispatch_outbox", ("FROM outbox", "FOR UPDATE SKIP LOCKED")),
        }
        plans = {}
        for label, (name, needles) in queries.items():
            found = find_statement(captured[name], *needles)
            if found is None:
                plans[label] = {"sql": None, "plan": ["(statement not captured)"]}
                continue
            statement, parameters = found
            plans[label] = {"sql": " ".join(statement.split()),
                            "plan": explain(engine, statement, parameters)}
        results["plans"] = plans

        if args.profile:
            results["profiles"] = profile(args, database, state, sweeps)
        engine.dispose()
    return results


def profile(args: argparse.Namespace, database: str, state: SeedState, sweeps: list[Sweep]
            ) -> dict[str, str]:
    """Sample each sweep with py-spy (attached to this process) over a few runs."""
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        return {"error": "py-spy not found: .venv/bin/pip install py-spy"}
    import os

    args.profile.mkdir(parents=True, exist_ok=True)
    out = {}
    for sweep in sweeps:
        path = args.profile / f"py-spy-{sweep.name}.txt"
        spy = subprocess.Popen(
            [str(py_spy), "record", "--pid", str(os.getpid()), "--format", "raw", "--rate", "500",
             "--duration", "600", "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.5)  # let py-spy attach
            for _ in range(3):
                reset(database, state)
                sweep.call()
        finally:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(timeout=10)
        out[sweep.name] = summarise_py_spy(path, sweep.name if sweep.name != "dispatch_outbox"
                                           else "dispatch_due")
    return out


# --- Output --------------------------------------------------------------------------------------


def print_summary(info: dict[str, Any], res: dict[str, Any]) -> None:
    m = info["machine"]
    print()
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, PostgreSQL "
          f"{m['postgresql']} (shared_buffers={m['pg_settings']['shared_buffers']}, "
          f"synchronous_commit={m['pg_settings']['synchronous_commit']}), Python {m['python']}")
    print(f"data: {res['seed']['rows']}")
    print(f"sizes: {res['table_sizes']}")
    print(f"\n{'sweep':<25} {'runs (ms)':<40} {'min':>7} {'median':>7} {'max':>7} "
          f"{'stmts':>6}  returned (last run)")
    for name, t in res["sweeps"].items():
        runs = " ".join(f"{v:.0f}" for v in t["runs_ms"])
        print(f"{name:<25} {runs:<40} {t['min_ms']:>7.1f} {t['median_ms']:>7.1f} "
              f"{t['max_ms']:>7.1f} {t.get('statements', 0):>6}  {t['counts'][-1]}")
    for name, t in res["sweeps"].items():
        print(f"  {name} statements: {t.get('statements_by_kind')}; machine busy before: "
              f"{100 * t['machine_busy_before']:.0f}%")
    for label, p in res["plans"].items():
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) {label}:\n  {p['sql']}")
        for line in p["plan"]:
            print(f"    {line}")
    for name, text in (res.get("profiles") or {}).items():
        print(f"\n[{name}] {text}")
    print()
    for name, t in res["sweeps"].items():
        if t["targeted"]:
            verdict = "met" if t["median_ms"] <= TARGET_MS else "NOT met"
            print(f"target {name} <= {TARGET_MS:.0f} ms (median of {len(t['runs_ms'])}): "
                  f"{verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000, help="enrolled (active)")
    parser.add_argument("--due", type=int, default=1000,
                        help="due check-ins, due escalations and due outbox rows (each)")
    parser.add_argument("--window-ends", type=int, default=1000,
                        help="enrolled patients whose monitoring window just closed")
    parser.add_argument("--completed", type=int, default=20_000,
                        help="patients who finished monitoring earlier (history)")
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--flags-not-due", type=int, default=5000)
    parser.add_argument("--flags-closed", type=int, default=60_000)
    parser.add_argument("--outbox-history", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wait-idle", type=float, default=300, metavar="SECONDS",
                        help="before each sweep's runs, wait up to this long for the machine to "
                             "be < 10%% busy")
    parser.add_argument("--database", default="cartwatch_bench_sweeps")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample each sweep with py-spy, write the raw stacks to DIR")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    if args.due + args.window_ends > args.patients:
        parser.error("--due + --window-ends must not exceed --patients")
    if not 1 <= args.runs <= 50:
        parser.error("--runs must be between 1 and 50")
    if args.teams < 1:
        parser.error("--teams must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {}
    try:
        log(f"creating database {args.database} and migrating")
        recreate_database(args.database)
        import secrets

        migrate(args.database, secrets.token_urlsafe(48))
        results = run(args, args.database)
    finally:
        if not args.keep:
            with contextlib.suppress(Exception):
                drop_database(args.database)
    info = {"machine": machine(), **{k: (str(v) if isinstance(v, Path) else v)
                                     for k, v in vars(args).items()}}
    print_summary(info, results)
    if args.json:
        args.json.write_text(json.dumps({"info": info, "results": results}, indent=2,
                                        default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
