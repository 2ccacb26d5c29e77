"""Alert latency benchmark: from a report's 201 to its webhook arriving at a loopback receiver.

    .venv/bin/python bench/alerts.py [--rate 80] [--duration 20] [--flat-out-seconds 20]
                                     [--workers 2] [--json FILE] [--keep]

What it does, in order (results: docs/performance-alerts.md):

1. drops and recreates the PostgreSQL database ``--database`` (default cartwatch_bench_alerts) on
   127.0.0.1:5432 and runs ``cartwatch db upgrade`` (helpers from bench/intake.py);
2. starts a ``tests.support.receivers.WebhookReceiver`` in this process on 127.0.0.1 and seeds,
   through the app's own code, one care team whose only notification target is that receiver,
   and ``--probe-patients`` + ``--wrk-patients`` patients with activated logins and access tokens;
3. starts gunicorn (``api:create_app()``, DISPATCH_ON_COMMIT=true, so the webhook is sent by the
   worker's dispatcher thread right after the report's commit) on a free loopback port;
4. warm-up, then phase 1: a paced probe (threads with http.client connections) posts ``--rate``
   reports/s for ``--duration`` s. Every report raises a NEW urgent flag, so every report sends
   one webhook: each report carries one of 28 single-rule bodies (fever, tachycardia, hypoxia,
   hypotension, 24 urgent symptoms) and the (patient, rule) pairs never repeat during the run
   (a rule firing again within 12 h only joins the open flag and notifies nobody). Latency =
   the receiver's arrival time of the webhook whose payload carries the report_id, minus the
   time the probe read the 201 (both ``time.time()`` in this process);
5. phase 2: ``wrk`` posts flag-raising reports flat out for ``--flat-out-seconds`` s (its own
   patients, its own (patient, rule) pairs, so that its reports send webhooks too: the dispatcher
   queue is loaded) while the probe keeps measuring at ``--rate``;
6. polls ``SELECT count(*) FROM outbox WHERE status='pending'`` once a second throughout, waits
   (bounded) until the outbox has drained, and prints: probe latency p50/p90/p99/max per phase,
   webhooks that never arrived (must be 0), wrk req/s, the largest backlog, and the lag from
   intake (``reports.received_at``) to arrival for every webhook sent in phase 2.

Exit status 1 if a probe webhook never arrived, a report was not answered 201, or an outbox row
was dead-lettered. Only loopback addresses are used; every loop is bounded in count and time;
gunicorn and wrk are stopped by PID in ``finally`` blocks; the database is dropped unless
``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import (  # noqa: E402
    wait_idle,
    children,
    connect,
    cpu_snapshot,
    drop_database,
    free_port,
    log,
    machine,
    migrate,
    recreate_database,
    sqlalchemy_url,
    stop_server,
    wait_ready,
)

VENV_BIN = Path(sys.executable).parent
PASSWORD = "bench password, never used to log in"
RECEIVER_SECRET = "bench-webhook-secret-" + "s" * 24

# A report with these values raises nothing (temperature present, so no R_TEMP_MISSING either).
NORMAL: dict[str, Any] = {
    "temperature": {"value": 37.0, "unit": "C"},
    "heart_rate": 80,
    "systolic_bp": 120,
    "diastolic_bp": 75,
    "spo2": 98,
    "symptoms": [],
}


def _symptom(code: str, severity: int) -> dict[str, Any]:
    return {"symptoms": [{"code": code, "severity": severity}]}


# (urgent rule it raises, what differs from NORMAL). Checked against the rule engine at start.
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("R_FEVER", {"temperature": {"value": 38.5, "unit": "C"}}),
    ("R_TACHYCARDIA", {"heart_rate": 125}),
    ("R_HYPOXIA", {"spo2": 91}),
    ("R_HYPOTENSION", {"systolic_bp": 85, "diastolic_bp": 55}),
    ("R_CONFUSION", _symptom("confusion", 1)),
    ("R_SPEECH", _symptom("speech_difficulty", 1)),
    ("R_HANDWRITING", _symptom("handwriting_change", 1)),
    ("R_TREMOR", _symptom("tremor", 1)),
    ("R_PERSONALITY", _symptom("personality_change", 1)),
    ("R_FACIAL_WEAKNESS", _symptom("facial_weakness", 1)),
    ("R_MOVEMENT", _symptom("slow_movement_stiffness", 1)),
    ("R_CHILLS", _symptom("chills", 1)),
    ("R_BRUISING", _symptom("bruising", 1)),
    ("R_DROWSY", _symptom("decreased_consciousness", 1)),
    ("R_BREATHING", _symptom("shortness_of_breath", 1)),
    ("R_PALPITATIONS", _symptom("fast_heartbeat", 2)),
    ("R_DIZZINESS", _symptom("dizziness", 2)),
    ("R_HEADACHE_SEVERE", _symptom("headache", 3)),
    ("R_NUMBNESS", _symptom("numbness_tingling", 2)),
    ("R_WALKING", _symptom("walking_difficulty", 2)),
    ("R_COGNITION", _symptom("trouble_concentrating", 2)),
    ("R_GI_SEVERE", _symptom("nausea", 3)),
    ("R_FATIGUE_SEVERE", _symptom("fatigue", 3)),
    ("R_PAIN_SEVERE", _symptom("muscle_joint_pain", 3)),
    ("R_BLEEDING", _symptom("bleeding", 1)),
    ("R_INFECTION_SIGN", _symptom("cough", 2)),
    ("R_URINE_LOW", _symptom("reduced_urine", 2)),
    ("R_OTHER_SEVERE", _symptom("rash", 3)),
)


def variant_body(index: int) -> dict[str, Any]:
    """Return the report fields (without id and time) of variant ``index``."""
    return NORMAL | VARIANTS[index][1]


def check_variants() -> None:
    """Make sure every variant raises its urgent rule on a patient without history."""
    from alerts.evaluate import History, Observation, evaluate
    from alerts.rules import DEFAULT_THRESHOLDS, RULES_BY_ID

    for index, (rule_id, _) in enumerate(VARIANTS):
        body = variant_body(index)
        observation = Observation(
            recorded_at=datetime.now(UTC),
            temperature_c=Decimal(str(body["temperature"]["value"])),
            heart_rate=body["heart_rate"], systolic_bp=body["systolic_bp"],
            diastolic_bp=body["diastolic_bp"], spo2=body["spo2"],
            symptoms={s["code"]: s["severity"] for s in body["symptoms"]},
            ice=None, antipyretic_last_6h=None,
        )
        fired = {f.rule_id for f in evaluate(observation, History(), DEFAULT_THRESHOLDS)}
        if rule_id not in fired or RULES_BY_ID[rule_id].level != "urgent":
            raise SystemExit(f"variant {index} should raise urgent {rule_id}, raised {fired}")


# --- Machine load ---------------------------------------------------------------------------------

# --- Statistics ----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def summary_ms(seconds: list[float]) -> dict[str, Any]:
    values = sorted(s * 1000 for s in seconds)
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": values[-1] if values else math.nan,
        "min": values[0] if values else math.nan,
        "negative": sum(1 for v in values if v < 0),
    }


# --- Seeding -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    team_id: int
    patients: list[tuple[int, str]]  # (patient_id, access token)
    seconds: float


def seed(database: str, secret: str, n_patients: int, receiver_target: dict[str, str],
         token_minutes: int) -> Seeded:
    """One team (webhook target = the receiver), n patients with logins and access tokens."""
    from api import create_app
    from api.auth import issue_tokens
    from api.extensions import db
    from models import outbox as outbox_model
    from models import patients as patient_model
    from models import teams as team_model
    from models.users import Role, create_user, start_session

    started = time.perf_counter()
    app = create_app({
        "DATABASE_URL": sqlalchemy_url(database),
        "SECRET_KEY": secret,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=token_minutes),
        # Nobody logs in with a password here: a cheap argon2id keeps seeding quick.
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_COST": 1024,
        "PASSWORD_HASH_PARALLELISM": 1,
        "LOG_LEVEL": "WARNING",
        "DISPATCH_ON_COMMIT": False,
    })
    now = datetime.now(UTC)
    today = now.date()
    patients: list[tuple[int, str]] = []
    with app.app_context():
        session = db.session
        team = team_model.create_team(session, data={
            "name": "Alert Bench Team", "phone": "+16175550100", "on_call_name": "On call",
            "on_call_phone": "+16175550101", "on_call_email": "oncall@bench.example.org",
        }, now=now)
        clinician = create_user(session, email="clinician@bench.example.org", password=PASSWORD,
                                role=Role.CLINICIAN, display_name="Bench Clinician", now=now)
        team_model.add_member(session, team, user_id=clinician.user_id, now=now)
        outbox_model.add_target(session, team_id=team.team_id, channel="webhook",
                                target=receiver_target, label="bench", now=now)
        session.commit()
        team_id = team.team_id
        users = []
        for i in range(n_patients):
            patient, code = patient_model.enrol_patient(
                session, team=team,
                data={
                    "display_name": f"Patient {i}", "mrn": f"A{i:07d}",
                    "date_of_birth": date(1950 + i % 40, 1 + i % 12, 1 + i % 28),
                    "timezone": "Europe/Madrid", "language": "en", "temperature_unit": "C",
                    "product": "yescarta", "infusion_date": today - timedelta(days=i % 20),
                    "monitoring_days": 28, "checkin_times": ["08:00", "20:00"],
                    "ice_baseline": None,
                },
                enrolled_by=clinician, now=now, code_lifetime=timedelta(days=7),
            )
            user, _ = patient_model.activate_patient_account(
                session, code=code, email=f"patient{i}@bench.example.org", password=PASSWORD,
                now=now,
            )
            users.append((patient.patient_id, user))
            if i % 500 == 499:
                session.commit()
        session.commit()
        with app.test_request_context():
            for patient_id, user in users:
                auth = start_session(session, user, now=now, lifetime=timedelta(days=1))
                patients.append((patient_id, issue_tokens(user, auth)["access_token"]))
        session.commit()
    with app.app_context():
        db.engine.dispose()
    with connect(database, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return Seeded(team_id, patients, time.perf_counter() - started)


# --- Server --------------------------------------------------------------------------------------


def start_server(args: argparse.Namespace, port: int, database: str, secret: str,
                 log_path: Path) -> subprocess.Popen[bytes]:
    cmd = [str(VENV_BIN / "gunicorn"), "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
           "--no-control-socket", "--log-level", "warning"]
    if args.worker_class == "gthread":
        cmd += ["-k", "gthread", "--threads", str(args.gthreads)]
    cmd.append("api:create_app()")
    env = dict(os.environ, DATABASE_URL=sqlalchemy_url(database), SECRET_KEY=secret,
               LOG_LEVEL="WARNING", DISPATCH_ON_COMMIT="true",
               ACCESS_TOKEN_MINUTES=str(args.token_minutes))
    with log_path.open("wb") as log_file:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)


# --- The paced probe -----------------------------------------------------------------------------


@dataclass
class Sent:
    index: int  # global probe index: selects the (patient, rule) pair
    report_id: int
    sent_wall: float  # time.time() before the request was written
    answered_wall: float  # time.time() when the 201's status line and headers were read


@dataclass
class ProbeRun:
    label: str
    sent: list[Sent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started_wall: float = 0.0
    ended_wall: float = 0.0
    late_starts: int = 0  # requests that started > 50 ms after their scheduled time
    skipped: int = 0  # slots not sent: the phase ended first (the server could not keep up)


class Probe:
    """Posts flag-raising reports at a fixed rate over keep-alive http.client connections."""

    def __init__(self, port: int, patients: list[tuple[int, str]], connections: int) -> None:
        self.port = port
        self.patients = patients
        self.connections = connections
        self.cursor = 0  # next global index; never reused, so (patient, rule) pairs never repeat
        self.capacity = len(patients) * len(VARIANTS)
        self._lock = threading.Lock()

    def body(self, index: int) -> tuple[int, str, bytes]:
        patient_id, token = self.patients[index % len(self.patients)]
        variant = (index // len(self.patients)) % len(VARIANTS)
        body = {
            "client_report_id": str(uuid.uuid4()),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **variant_body(variant),
        }
        return patient_id, token, json.dumps(body).encode()

    def run(self, label: str, rate: float, seconds: float) -> ProbeRun:
        total = int(rate * seconds)
        first = self.cursor
        if first + total > self.capacity:
            raise RuntimeError(f"probe would reuse (patient, rule) pairs: raise --probe-patients "
                               f"(capacity {self.capacity}, needed {first + total})")
        self.cursor += total
        result = ProbeRun(label)
        next_slot = [0]
        start = time.monotonic() + 0.05
        send_until = start + seconds + 0.5  # no new request after the phase (plus a grace)
        deadline = send_until + 30  # hard stop for requests in flight if the server stalls
        result.started_wall = time.time() + 0.05

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                for _ in range(total):  # bounded: each pass takes one slot or ends
                    with self._lock:
                        slot = next_slot[0]
                        next_slot[0] += 1
                    if slot >= total:
                        return
                    due = start + slot / rate
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    elif wait < -0.05:
                        with self._lock:
                            result.late_starts += 1
                    if time.monotonic() > send_until:
                        with self._lock:
                            result.skipped += 1
                        continue
                    index = first + slot
                    patient_id, token, payload = self.body(index)
                    try:
                        sent_wall = time.time()
                        conn.request("POST", f"/api/v1/patients/{patient_id}/reports",
                                     body=payload, headers={
                                         "Authorization": f"Bearer {token}",
                                         "Content-Type": "application/json",
                                     })
                        response = conn.getresponse()
                        answered = time.time()
                        data = response.read()
                    except (OSError, http.client.HTTPException) as error:
                        conn.close()
                        with self._lock:
                            result.errors.append(f"{type(error).__name__}: {error}")
                        continue
                    if response.status != 201:
                        with self._lock:
                            result.errors.append(f"{response.status} {data[:200]!r}")
                        continue
                    report_id = int(json.loads(data)["report"]["report_id"])
                    with self._lock:
                        result.sent.append(Sent(index, report_id, sent_wall, answered))
            finally:
                conn.close()

        threads = [threading.Thread(target=worker, name=f"probe-{n}", daemon=True)
                   for n in range(self.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + 15)
        result.ended_wall = time.time()
        if any(thread.is_alive() for thread in threads):
            result.errors.append("probe threads still running at the deadline")
        return result


# --- Arrivals and backlog ------------------------------------------------------------------------


class Arrivals:
    """Index the receiver's records by the report_id in their payload (earliest arrival)."""

    def __init__(self, receiver: Any) -> None:
        self.receiver = receiver
        self.position = 0
        self.by_report: dict[int, float] = {}
        self.duplicates = 0
        self.invalid_signatures = 0

    def update(self) -> None:
        records = list(self.receiver.received)  # the list only grows; copying is safe
        for record in records[self.position:]:
            if not record.signature_valid:
                self.invalid_signatures += 1
            payload = record.payload if isinstance(record.payload, dict) else {}
            report_id = payload.get("report_id")
            if report_id is None:
                continue
            if report_id in self.by_report:
                self.duplicates += 1
                self.by_report[report_id] = min(self.by_report[report_id], record.wall)
            else:
                self.by_report[report_id] = record.wall
        self.position = len(records)

    def wait_for(self, report_ids: set[int], timeout: float) -> set[int]:
        """Wait (bounded) until every report id arrived; return those that did not."""
        deadline = time.monotonic() + timeout
        while True:
            self.update()
            missing = {r for r in report_ids if r not in self.by_report}
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.05)


class BacklogPoller:
    """Once a second: pending outbox rows and the age of the oldest one."""

    def __init__(self, database: str, max_seconds: float) -> None:
        self.database = database
        self.max_seconds = max_seconds
        self.samples: list[tuple[float, str, int, float]] = []  # wall, phase, count, oldest age s
        self.phase = "setup"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="backlog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        with connect(self.database, autocommit=True) as conn:
            for _ in range(int(self.max_seconds)):  # bounded: one sample a second
                if self._stop.is_set():
                    return
                count, age = conn.execute(
                    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
                    "FROM outbox WHERE status = 'pending'"
                ).fetchone()
                self.samples.append((time.time(), self.phase, int(count), float(age)))
                if self._stop.wait(1.0):
                    return

    def peak(self, phase: str) -> tuple[int, float]:
        rows = [s for s in self.samples if s[1] == phase]
        return (max((s[2] for s in rows), default=0), max((s[3] for s in rows), default=0.0))


def pending_count(database: str) -> int:
    with connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'")
                   .fetchone()[0])


def wait_drained(database: str, timeout: float) -> float | None:
    """Wait (bounded) until no outbox row is pending; return how long it took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if pending_count(database) == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


# --- wrk -----------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Generated by bench/alerts.py. Each wrk thread owns every nthreads-th patient of the data file
-- and walks (patient, rule) pairs patient-major, so no pair repeats until all are used: every
-- report raises a new urgent flag, and so sends a webhook.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

function init(args)
  local data = dofile(args[1])
  local nthreads = tonumber(args[2])
  variants = data.variants
  mine = {}
  for i, p in ipairs(data.patients) do
    if (i - 1) % nthreads == thread_no - 1 then mine[#mine + 1] = p end
  end
  local seed = os.time() + thread_no * 7919
  local urandom = io.open("/dev/urandom", "rb")
  if urandom then
    local bytes = urandom:read(6)
    urandom:close()
    for i = 1, #bytes do seed = (seed * 256 + bytes:byte(i)) % 4503599627370496 end
  end
  math.randomseed(seed)
  n = 0
  non201 = 0
  counts = {}
  status_counts = ""
  sample = ""
end

local function uuid4()
  return string.format(
    "%08x-%04x-4%03x-%04x-%06x%06x",
    math.random(0, 0xffffffff), math.random(0, 0xffff), math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff), math.random(0, 0xffffff), math.random(0, 0xffffff)
  )
end

function request()
  local patient = mine[n % #mine + 1]
  local variant = variants[math.floor(n / #mine) % #variants + 1]
  n = n + 1
  local body = string.format('{"client_report_id": "%s", "recorded_at": "%s", %s}',
    uuid4(), os.date("!%Y-%m-%dT%H:%M:%S+00:00"), variant)
  return wrk.format("POST", "/api/v1/patients/" .. patient.id .. "/reports", {
    ["Authorization"] = "Bearer " .. patient.token,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    non201 = non201 + 1
    counts[status] = (counts[status] or 0) + 1
    local parts = {}
    for code, k in pairs(counts) do parts[#parts + 1] = code .. ":" .. k end
    status_counts = table.concat(parts, ",")
    if sample == "" then sample = string.sub(tostring(status) .. " " .. (body or ""), 1, 300) end
  end
end

function done(summary, latency, requests)
  local bad, statuses, samples, pairs_max = 0, {}, {}, 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non201") or 0)
    local s = thread:get("status_counts")
    if s and s ~= "" then statuses[#statuses + 1] = s end
    local b = thread:get("sample")
    if b and b ~= "" then samples[#samples + 1] = b end
  end
  local e = summary.errors
  io.write(string.format(
    "ALERTS_RESULT requests=%d duration_us=%d non201=%d connect=%d read=%d write=%d "
      .. "status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d statuses=%s\n",
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    (#statuses > 0 and table.concat(statuses, ",") or "-")
  ))
  for _, b in ipairs(samples) do io.write("ALERTS_SAMPLE " .. string.gsub(b, "\n", " ") .. "\n") end
end
"""


def write_wrk_files(directory: Path, patients: list[tuple[int, str]]) -> tuple[Path, Path]:
    script = directory / "alerts.lua"
    script.write_text(WRK_SCRIPT)
    data = directory / "alerts-data.lua"
    lines = ["return {", "patients = {"]
    lines += [f'  {{ id = {pid}, token = "{token}" }},' for pid, token in patients]
    lines += ["},", "variants = {"]
    for index in range(len(VARIANTS)):
        fragment = json.dumps(variant_body(index))[1:-1]  # the fields, without the braces
        lines.append(f"  [==[{fragment}]==],")
    lines += ["},", "}"]
    data.write_text("\n".join(lines) + "\n")
    data.chmod(0o600)
    return script, data


def parse_wrk(output: str) -> dict[str, Any]:
    match = re.search(r"^ALERTS_RESULT (.*)$", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if match is None or rps is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    values: dict[str, Any] = {}
    for item in match.group(1).split():
        key, _, value = item.partition("=")
        values[key] = value if key == "statuses" else float(value)
    values["rps"] = float(rps.group(1))
    values["samples"] = re.findall(r"^ALERTS_SAMPLE (.*)$", output, re.M)
    values["socket_errors"] = int(sum(values[k] for k in ("connect", "read", "write", "timeout")))
    return values


# --- CPU accounting ------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used between two /proc snapshots, by gunicorn / postgres / wrk / this script
    / other (other = processes nobody here started: a busy machine shows up there)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.before = cpu_snapshot()
        self.started = time.monotonic()

    def read(self) -> dict[str, Any]:
        after = cpu_snapshot()
        elapsed = time.monotonic() - self.started
        server = {self.server_pid, *children(self.server_pid)}
        ticks = os.sysconf("SC_CLK_TCK")
        groups: dict[str, float] = {}
        for pid, (comm, total) in after.items():
            before = self.before.get(pid)
            used = total - before[1] if before and before[0] == comm else total
            if pid in server:
                group = "gunicorn"
            elif pid == os.getpid():
                group = "bench"
            elif comm == "postgres":
                group = "postgres"
            elif comm == "wrk":
                group = "wrk"
            else:
                group = "other"
            groups[group] = groups.get(group, 0.0) + used / ticks
        cpus = os.cpu_count() or 1
        return {
            "seconds": round(elapsed, 1),
            "cpu_s": {k: round(v, 2) for k, v in sorted(groups.items())},
            "busy_pct": round(100 * sum(groups.values()) / elapsed / cpus, 1),
            "other_pct": round(100 * groups.get("other", 0.0) / elapsed / cpus, 1),
        }


def start_py_spy(server_pid: int, seconds: float, directory: Path) -> list[tuple[Any, Path]]:
    """Sample every gunicorn worker (on-CPU samples only) for ``seconds``."""
    spies = []
    for pid in children(server_pid):
        path = directory / f"py-spy-worker-{pid}.txt"
        spies.append((subprocess.Popen(
            [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw",
             "--rate", "250", "--duration", str(math.ceil(seconds)), "--nonblocking",
             "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ), path))
    return spies


def summarise_py_spy(paths: list[Path], top: int = 12) -> str:
    """Split the workers' on-CPU samples between the dispatcher thread and request handling;
    per group, the heaviest functions of the project (inclusive) and of anything (self)."""
    groups = ("dispatcher thread", "requests")
    inclusive: dict[str, dict[str, int]] = {g: {} for g in groups}
    own: dict[str, dict[str, int]] = {g: {} for g in groups}
    totals = dict.fromkeys(groups, 0)
    project = re.compile(r"\((alerts|api|models|schemas)/")
    for path in paths:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                stack, _, count_text = line.rpartition(" ")
                if not count_text.isdigit():
                    continue
                count = int(count_text)
                group = groups[0] if "(api/dispatch.py:" in stack else groups[1]
                totals[group] += count
                frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
                for frame in set(frames):
                    if project.search(frame):
                        inclusive[group][frame] = inclusive[group].get(frame, 0) + count
                if frames:
                    own[group][frames[-1]] = own[group].get(frames[-1], 0) + count
    total = sum(totals.values())
    if not total:
        return "(no py-spy samples)"
    lines = [f"py-spy, gunicorn workers, {total} on-CPU samples: "
             + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in totals.items())]
    for group in groups:
        lines.append(f"  {group}, project functions (inclusive, % of all samples):")
        for frame, n in sorted(inclusive[group].items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"    {100 * n / total:5.1f}%  {frame}")
        lines.append(f"  {group}, self time:")
        for frame, n in sorted(own[group].items(), key=lambda kv: -kv[1])[:6]:
            lines.append(f"    {100 * n / total:5.1f}%  {frame}")
    return "\n".join(lines)


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split(" 1")[0].strip()
    return "?"


# --- Phases --------------------------------------------------------------------------------------


def latency_of(run: ProbeRun, arrivals: Arrivals) -> dict[str, Any]:
    lat = [arrivals.by_report[s.report_id] - s.answered_wall for s in run.sent
           if s.report_id in arrivals.by_report]
    request = [s.answered_wall - s.sent_wall for s in run.sent]
    missing = [s.report_id for s in run.sent if s.report_id not in arrivals.by_report]
    elapsed = max(run.ended_wall - run.started_wall, 1e-9)
    return {
        "label": run.label,
        "reports": len(run.sent),
        "achieved_rate": len(run.sent) / elapsed,
        "errors": len(run.errors),
        "error_samples": run.errors[:5],
        "late_starts": run.late_starts,
        "skipped": run.skipped,
        "webhook_ms": summary_ms(lat),
        "request_ms": summary_ms(request),
        "never_arrived": len(missing),
        "missing_report_ids": missing[:20],
    }


def intake_lag(database: str, arrivals: Arrivals, since_wall: float, until_wall: float
               ) -> dict[str, Any]:
    """Lag from reports.received_at (server clock at intake) to webhook arrival, for every
    report received between two instants."""
    with connect(database) as conn:
        rows = conn.execute(
            "SELECT report_id, extract(epoch FROM received_at) FROM reports "
            "WHERE received_at >= to_timestamp(%s) AND received_at < to_timestamp(%s)",
            (since_wall, until_wall),
        ).fetchall()
    lags = [arrivals.by_report[rid] - float(at) for rid, at in rows if rid in arrivals.by_report]
    return {"reports": len(rows), "webhooks": len(lags), "lag_ms": summary_ms(lags),
            "seconds": until_wall - since_wall}


def outbox_status(database: str) -> dict[str, int]:
    with connect(database) as conn:
        return {status: int(n) for status, n in conn.execute(
            "SELECT status, count(*) FROM outbox GROUP BY status")}


def run_benchmark(args: argparse.Namespace, database: str, secret: str, workdir: Path
                  ) -> dict[str, Any]:
    from tests.support.receivers import WebhookReceiver

    results: dict[str, Any] = {}
    with WebhookReceiver(secret=RECEIVER_SECRET) as receiver:
        log(f"webhook receiver on {receiver.url}")
        n_total = args.probe_patients + args.wrk_patients
        log(f"seeding 1 team and {n_total} patients with logins")
        seeded = seed(database, secret, n_total, receiver.target, args.token_minutes)
        log(f"seeded in {seeded.seconds:.0f} s")
        probe_patients = seeded.patients[: args.probe_patients]
        wrk_patients = seeded.patients[args.probe_patients:]
        script, datafile = write_wrk_files(workdir, wrk_patients)

        port = free_port()
        log_path = workdir / "gunicorn.log"
        proc = start_server(args, port, database, secret, log_path)
        log(f"gunicorn -w {args.workers} ({args.worker_class}) on 127.0.0.1:{port}, "
            f"pid {proc.pid}")
        poller = BacklogPoller(database, max_seconds=3600)
        wrk_proc: subprocess.Popen[str] | None = None
        spies: list[tuple[Any, Path]] = []
        try:
            wait_ready(proc, port)
            poller.start()
            probe = Probe(port, probe_patients, args.probe_connections)
            arrivals = Arrivals(receiver)

            results["busy_before"] = round(wait_idle(args.wait_idle), 3)
            results["loadavg_before"] = loadavg()
            if args.warmup > 0:
                poller.phase = "warmup"
                log(f"warm-up: {args.warmup} s at {args.rate}/s")
                warm = probe.run("warm-up", args.rate, args.warmup)
                arrivals.wait_for({s.report_id for s in warm.sent}, timeout=10)
                results["warmup"] = latency_of(warm, arrivals)

            poller.phase = "paced"
            log(f"phase 1: {args.duration} s at {args.rate} reports/s")
            meter = CpuMeter(proc.pid)
            spies = start_py_spy(proc.pid, args.duration, args.py_spy) if args.py_spy else []
            paced = probe.run("paced", args.rate, args.duration)
            results["cpu_paced"] = meter.read()
            for spy, _ in spies:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    spy.wait(timeout=60)
                if spy.poll() is None:
                    spy.kill()
                    spy.wait(timeout=10)
            if spies:
                results["py_spy_paced"] = summarise_py_spy([path for _, path in spies])
            arrivals.wait_for({s.report_id for s in paced.sent}, timeout=args.arrival_timeout)
            results["paced"] = latency_of(paced, arrivals)
            r = results["paced"]
            log(f"phase 1: {r['reports']} reports, webhook p50 {r['webhook_ms']['p50']:.2f} ms, "
                f"p99 {r['webhook_ms']['p99']:.2f} ms, never arrived {r['never_arrived']}")
            drained = wait_drained(database, timeout=30)

            poller.phase = "flat-out"
            wrk_seconds = math.ceil(args.flat_out_seconds) + 2
            log(f"phase 2: wrk -t{args.wrk_threads} -c{args.wrk_connections} flat out for "
                f"{wrk_seconds} s, probe at {args.rate}/s for {args.flat_out_seconds} s")
            phase2_start = time.time()
            meter = CpuMeter(proc.pid)
            wrk_proc = subprocess.Popen(
                ["wrk", f"-t{args.wrk_threads}", f"-c{args.wrk_connections}",
                 f"-d{wrk_seconds}s", "--latency", "--timeout", "10s", "-s", str(script),
                 f"http://127.0.0.1:{port}", "--", str(datafile), str(args.wrk_threads)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            time.sleep(1.0)
            loaded = probe.run("under flat-out load", args.rate, args.flat_out_seconds)
            output, _ = wrk_proc.communicate(timeout=wrk_seconds + 60)
            wrk_end = time.time()
            results["cpu_flat_out"] = meter.read()
            if wrk_proc.returncode != 0:
                raise RuntimeError(f"wrk failed ({wrk_proc.returncode}):\n{output}")
            wrk = parse_wrk(output)
            poller.phase = "drain"
            drain_seconds = wait_drained(database, timeout=args.drain_timeout)
            arrivals.wait_for({s.report_id for s in loaded.sent}, timeout=args.arrival_timeout)
            # Requests wrk had in flight when it stopped commit a little later: let their
            # webhooks go before the server is stopped (bounded).
            time.sleep(1.0)
            wait_drained(database, timeout=10)
            poller.phase = "done"
            results["loaded"] = latency_of(loaded, arrivals)
            results["phase1_drained_s"] = drained
            results["wrk"] = {k: v for k, v in wrk.items()} | {"output": output}
            results["wrk_capacity_pairs"] = len(wrk_patients) * len(VARIANTS)
            results["drain_after_wrk_s"] = drain_seconds
            results["phase2_all_webhooks"] = intake_lag(database, arrivals, phase2_start,
                                                        wrk_end)
            results["phase1_all_webhooks"] = intake_lag(database, arrivals,
                                                        paced.started_wall, paced.ended_wall)
        finally:
            if wrk_proc is not None and wrk_proc.poll() is None:
                wrk_proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    wrk_proc.wait(timeout=10)
                if wrk_proc.poll() is None:
                    wrk_proc.kill()
                    wrk_proc.wait(timeout=10)
            for spy, _ in spies:
                if spy.poll() is None:
                    spy.kill()
                    spy.wait(timeout=10)
            poller.stop()
            stop_server(proc)
            log(f"gunicorn pid {proc.pid} stopped")
        results["backlog"] = {
            phase: dict(zip(("max_pending", "max_oldest_age_s"), poller.peak(phase), strict=True))
            for phase in ("paced", "flat-out", "drain")
        }
        results["backlog_samples_flat_out"] = [
            (round(s[0] - phase2_start, 1), s[2], round(s[3], 2))
            for s in poller.samples if s[1] in ("flat-out", "drain")
        ]
        arrivals.update()
        results["receiver"] = {
            "requests": len(receiver.received),
            "connections": receiver.connection_count,
            "duplicates": arrivals.duplicates,
            "invalid_signatures": arrivals.invalid_signatures,
            "errors": receiver.errors[:5],
        }
        results["outbox"] = outbox_status(database)
        results["gunicorn_log_tail"] = log_path.read_text(errors="replace")[-3000:]
    return results


# --- Output --------------------------------------------------------------------------------------


def print_summary(info: dict[str, Any], res: dict[str, Any]) -> None:
    m = info["machine"]
    print()
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, PostgreSQL "
          f"{m['postgresql']} (synchronous_commit={m['pg_settings']['synchronous_commit']}), "
          f"Python {m['python']}, {m['wrk']}")
    print(f"server: gunicorn -w {info['workers']} ({info['worker_class']}), "
          f"DISPATCH_ON_COMMIT=true; probe {info['probe_connections']} connections at "
          f"{info['rate']}/s; wrk -t{info['wrk_threads']} -c{info['wrk_connections']}")
    print("\nwebhook latency = arrival at the receiver - 201 read by the probe (ms)")
    print(f"{'phase':<22} {'reports':>7} {'rate/s':>7} {'p50':>7} {'p90':>7} {'p99':>7} "
          f"{'max':>8} {'<0':>4} {'lost':>5} {'errors':>6} {'unsent':>6}  201 p50/p99 ms")
    for key in ("paced", "loaded"):
        r = res.get(key)
        if not r:
            continue
        w, q = r["webhook_ms"], r["request_ms"]
        print(f"{r['label']:<22} {r['reports']:>7} {r['achieved_rate']:>7.1f} {w['p50']:>7.2f} "
              f"{w['p90']:>7.2f} {w['p99']:>7.2f} {w['max']:>8.2f} {w['negative']:>4} "
              f"{r['never_arrived']:>5} {r['errors']:>6} {r['skipped']:>6}  "
              f"{q['p50']:.1f}/{q['p99']:.1f}")
    wrk = res.get("wrk")
    if wrk:
        a = res["phase2_all_webhooks"]
        print(f"\nphase 2 total intake: {a['reports']} reports in {a['seconds']:.1f} s = "
              f"{a['reports'] / max(a['seconds'], 1e-9):.1f} reports/s (wrk + probe)")
        print(f"wrk (flat out): {wrk['rps']:.1f} req/s, {int(wrk['requests'])} requests, "
              f"p50 {wrk['p50_us'] / 1000:.1f} ms, p99 {wrk['p99_us'] / 1000:.1f} ms, "
              f"non-201 {int(wrk['non201'])}, socket errors {wrk['socket_errors']} "
              f"(unique (patient, rule) pairs available: {res['wrk_capacity_pairs']})")
        for phase in ("paced", "flat-out"):
            b = res["backlog"][phase]
            print(f"outbox backlog ({phase}): max {b['max_pending']} pending, oldest pending "
                  f"{b['max_oldest_age_s']:.2f} s (1 s samples)")
        drain = res.get("drain_after_wrk_s")
        print("outbox drained " + (f"{drain:.1f} s after wrk ended" if drain is not None
                                   else "NOT within the timeout"))
        for key, label in (("phase1_all_webhooks", "phase 1"), ("phase2_all_webhooks",
                                                                  "phase 2")):
            a = res[key]
            lag = a["lag_ms"]
            print(f"{label}, every report: {a['reports']} reports, {a['webhooks']} webhooks; "
                  f"intake start -> arrival p50 {lag['p50']:.1f} ms, p99 {lag['p99']:.1f} ms, "
                  f"max {lag['max']:.1f} ms")
    print(f"outbox rows by status: {res.get('outbox')}; receiver: {res.get('receiver')}")
    for key in ("cpu_paced", "cpu_flat_out"):
        c = res.get(key)
        if c:
            print(f"{key}: machine busy {c['busy_pct']}% over {c['seconds']} s, CPU s by process "
                  f"group {c['cpu_s']}; other users' processes {c['other_pct']}% of the machine")
    if res.get("py_spy_paced"):
        print(f"\nphase 1 {res['py_spy_paced']}")
    print(f"machine busy just before measuring: {100 * res.get('busy_before', 0):.0f}%, load "
          f"average {res.get('loadavg_before')}")
    paced, loaded = res.get("paced"), res.get("loaded")
    if paced:
        ok = paced["webhook_ms"]["p50"] <= 5 and paced["webhook_ms"]["p99"] <= 12
        print(f"\ntarget at {info['rate']}/s (p50 <= 5 ms, p99 <= 12 ms): "
              + ("met" if ok and not paced["never_arrived"] else "NOT met"))
    if loaded:
        ok = loaded["webhook_ms"]["max"] < 1000 and not loaded["never_arrived"]
        print("target under flat-out load (every probe webhook < 1 s): "
              + ("met" if ok else "NOT met"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=80, help="probe reports per second")
    parser.add_argument("--duration", type=float, default=20, help="phase 1 seconds")
    parser.add_argument("--flat-out-seconds", type=float, default=20, help="phase 2 seconds")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds at --rate")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--gthreads", type=int, default=2, help="threads with gthread")
    parser.add_argument("--probe-connections", type=int, default=16,
                        help="probe threads (each one request at a time; the rate is paced)")
    parser.add_argument("--probe-patients", type=int, default=500)
    parser.add_argument("--wrk-patients", type=int, default=2000)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=8)
    parser.add_argument("--arrival-timeout", type=float, default=15,
                        help="seconds to wait for the last webhooks of a phase")
    parser.add_argument("--drain-timeout", type=float, default=120,
                        help="seconds to wait for the outbox to drain after wrk")
    parser.add_argument("--wait-idle", type=float, default=300, metavar="SECONDS",
                        help="before measuring, wait up to this long for the machine to be "
                             "< 10%% busy")
    parser.add_argument("--database", default="cartwatch_bench_alerts")
    parser.add_argument("--token-minutes", type=int, default=120)
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="sample the gunicorn workers with py-spy during phase 1 (raw "
                             "stacks to DIR; needs .venv/bin/py-spy)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    if args.rate <= 0 or args.duration <= 0 or args.flat_out_seconds <= 0:
        parser.error("--rate, --duration and --flat-out-seconds must be positive")
    if args.duration + args.flat_out_seconds + args.warmup > 1800:
        parser.error("keep the whole run under 30 minutes")
    needed = args.rate * (args.warmup + args.duration + args.flat_out_seconds)
    if needed > args.probe_patients * len(VARIANTS):
        parser.error(f"--probe-patients too small: {needed:.0f} probe reports need at least "
                     f"{math.ceil(needed / len(VARIANTS))} patients (no (patient, rule) repeats)")
    if args.wrk_patients < args.wrk_threads:
        parser.error("--wrk-patients must be at least --wrk-threads")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    check_variants()
    if args.py_spy:
        if not (VENV_BIN / "py-spy").exists():
            print("--py-spy needs .venv/bin/pip install py-spy", file=sys.stderr)
            return 2
        args.py_spy.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cartwatch-alerts-") as tmp:
        try:
            log(f"creating database {args.database} and migrating")
            recreate_database(args.database)
            migrate(args.database, secret)
            results = run_benchmark(args, args.database, secret, Path(tmp))
        finally:
            if not args.keep:
                with contextlib.suppress(Exception):
                    drop_database(args.database)
    info = {
        "machine": machine(), "rate": args.rate, "duration": args.duration,
        "flat_out_seconds": args.flat_out_seconds, "workers": args.workers,
        "worker_class": args.worker_class, "probe_connections": args.probe_connections,
        "wrk_threads": args.wrk_threads, "wrk_connections": args.wrk_connections,
        "probe_patients": args.probe_patients, "wrk_patients": args.wrk_patients,
    }
    print_summary(info, results)
    if args.json:
        args.json.write_text(json.dumps({"info": info, "results": results}, indent=2,
                                        default=str))
    failures = []
    for key in ("warmup", "paced", "loaded"):
        r = results.get(key)
        if r and (r["never_arrived"] or r["errors"]):
            failures.append(f"{r['label']}: {r['never_arrived']} webhooks never arrived, "
                            f"{r['errors']} errors {r['error_samples']}")
    wrk = results.get("wrk")
    if wrk and (wrk["non201"] or wrk["socket_errors"]):
        failures.append(f"wrk: {int(wrk['non201'])} non-201 ({wrk['statuses']}), "
                        f"{wrk['socket_errors']} socket errors {wrk['samples'][:3]}")
    if results.get("outbox", {}).get("dead"):
        failures.append(f"{results['outbox']['dead']} outbox rows dead-lettered")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures and results.get("gunicorn_log_tail"):
        print("gunicorn log (tail):\n" + results["gunicorn_log_tail"], file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
