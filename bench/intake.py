"""Report intake benchmark: POST /api/v1/patients/{id}/reports on gunicorn + PostgreSQL + wrk.

    .venv/bin/python bench/intake.py [--duration 30] [--connections 8] [--threads 2] [--workers N]
                                     [--patients 200] [--history-reports 100000]

What it does, in order (see docs/performance.md for results):

1. drops and recreates the PostgreSQL database ``--database`` (default cartwatch_bench) on
   127.0.0.1:5432 and runs ``cartwatch db upgrade``;
2. seeds it through the app's own code (care teams, clinicians, patients with activated logins,
   some team thresholds), then bulk-loads ``--history-reports`` past reports with their symptoms
   by COPY: the enrolled patients get a realistic recent history (``--reports-per-day`` since
   their infusion, with some fever episodes), the rest belongs to patients who finished
   monitoring earlier in the year; levels and prompts of those rows come from the rule engine;
3. mints one access token per enrolled patient and writes them, with each patient's symptom
   checklist, to a data file under bench/results/ for bench/intake.lua;
4. for each configuration (``--config``, or --workers/--worker-class/--gthreads): starts gunicorn
   on a free loopback port, waits for /readyz, runs a warm-up, then the measured wrk run, and
   stops gunicorn by PID; each configuration starts from an identical copy of the seeded
   database (CREATE DATABASE ... TEMPLATE), so that all meet the same data;
5. prints req/s, p50/p90/p99/max, the non-201 count, the rows in ``reports`` before and after,
   and the CPU time per request of gunicorn, PostgreSQL and wrk; exits 1 if any answer was not
   201 or wrk saw a socket error. The database is dropped at the end unless ``--keep``.

Only loopback addresses are used; every run is bounded by its duration.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
PASSWORD = "bench password, never used to log in"

# Timezone -> (language, temperature unit) of a patient living there.
PLACES = (
    ("Europe/Madrid", "es", "C"),
    ("America/New_York", "en", "F"),
    ("Europe/London", "en", "C"),
    ("America/Chicago", "en", "F"),
    ("America/Los_Angeles", "es", "F"),
)
PRODUCTS = ("kymriah", "yescarta", "breyanzi", "carvykti", "abecma", "tecartus")
# What patients commonly report after CAR T (a subset of alerts.catalog.SYMPTOM_CODES); each
# patient's checklist is 6 of these, so that history rules (symptom worsening) meet old values.
COMMON_SYMPTOMS = (
    "fatigue", "nausea", "headache", "muscle_joint_pain", "decreased_appetite", "cough",
    "diarrhea", "chills", "dizziness", "sore_throat", "rash", "shortness_of_breath",
    "fast_heartbeat", "vomiting",
)
REPORT_COLUMNS = (
    "report_id", "patient_id", "client_report_id", "body_hash", "reporter_user_id",
    "reporter_role", "recorded_at", "received_at", "day_since_infusion", "temperature_c",
    "temperature_entered", "temperature_unit", "heart_rate", "systolic_bp", "diastolic_bp",
    "spo2", "ice", "ice_total", "antipyretic_last_6h", "note", "level", "threshold_version",
    "prompt",
)


# --- Small helpers -------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sqlalchemy_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def connect(database: str, autocommit: bool = False) -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, autocommit=autocommit
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recreate_database(name: str) -> None:
    with connect("postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with connect("postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scalar(database: str, sql: str) -> Any:
    with connect(database) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


def machine() -> dict[str, Any]:
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": scalar("postgres", "SHOW server_version"),
        "wrk": wrk_version.split("[")[0].strip() or "?",
        "pg_settings": {
            name: scalar("postgres", f"SHOW {name}")
            for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
        },
    }


# --- Seeding -------------------------------------------------------------------------------------


@dataclass
class SeedPatient:
    patient_id: int
    user_id: int
    team_index: int
    timezone: str
    language: str
    unit: str
    infusion_date: date
    checklist: list[str]
    token: str = ""


@dataclass
class Seed:
    teams: list[dict[str, Any]] = field(default_factory=list)
    active: list[SeedPatient] = field(default_factory=list)
    past: list[SeedPatient] = field(default_factory=list)
    history_rows: int = 0
    history_symptom_rows: int = 0
    active_history_rows: int = 0
    seconds: float = 0.0


def migrate(database: str, secret: str) -> None:
    env = dict(os.environ, DATABASE_URL=sqlalchemy_url(database), SECRET_KEY=secret,
               LOG_LEVEL="WARNING")
    subprocess.run([str(VENV_BIN / "cartwatch"), "db", "upgrade"], cwd=ROOT, env=env, check=True)


def seed(database: str, secret: str, args: argparse.Namespace, rng: random.Random) -> Seed:
    """Create teams, patients and logins with the app's code; bulk-load the report history."""
    from api import create_app
    from api.auth import issue_tokens
    from api.extensions import db
    from models import patients as patient_model
    from models import teams as team_model
    from models import thresholds as threshold_model
    from models.users import Role, User, create_user, start_session

    started = time.perf_counter()
    result = Seed()
    app = create_app(
        {
            "DATABASE_URL": sqlalchemy_url(database),
            "SECRET_KEY": secret,
            "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=args.token_minutes),
            # Nobody logs in with a password here: a cheap argon2id keeps seeding quick.
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_COST": 1024,
            "PASSWORD_HASH_PARALLELISM": 1,
            "LOG_LEVEL": "WARNING",
        }
    )
    now = datetime.now(UTC)
    today = now.date()
    per_patient = 28 * args.reports_per_day

    with app.app_context():
        session = db.session
        for t in range(args.teams):
            team = team_model.create_team(
                session,
                data={
                    "name": f"Cellular Therapy Team {t + 1}",
                    "phone": f"+1617555{t:04d}",
                    "on_call_name": "On-call fellow",
                    "on_call_phone": f"+1617556{t:04d}",
                    "on_call_email": f"oncall{t + 1}@bench.example.org",
                },
                now=now,
            )
            clinicians = []
            for c in range(2):
                clinician = create_user(
                    session, email=f"clinician{t + 1}.{c + 1}@bench.example.org",
                    password=PASSWORD, role=Role.CLINICIAN, display_name=f"Clinician {t}.{c}",
                    now=now,
                )
                team_model.add_member(session, team, user_id=clinician.user_id, now=now)
                clinicians.append(clinician)
            if t % 2 == 1:
                # Half of the teams run with their own thresholds (a threshold_sets row).
                threshold_model.set_thresholds(
                    session, team_id=team.team_id,
                    overrides={"fever_c": "37.8", "hr_watch_above": "105"},
                    by_user_id=clinicians[0].user_id, now=now,
                )
            version, thresholds = threshold_model.current_thresholds(session, team.team_id)
            result.teams.append({"team": team, "clinician": clinicians[0], "phone": team.phone,
                                 "version": version, "thresholds": thresholds})
        session.commit()

        def enrol(index: int, infusion: date, status: str) -> SeedPatient:
            team_index = index % len(result.teams)
            team_info = result.teams[team_index]
            timezone, language, unit = PLACES[index % len(PLACES)]
            patient, code = patient_model.enrol_patient(
                session, team=team_info["team"],
                data={
                    "display_name": f"Patient {index}",
                    "mrn": f"B{index:07d}",
                    "date_of_birth": date(1950 + index % 40, 1 + index % 12, 1 + index % 28),
                    "timezone": timezone,
                    "language": language,
                    "temperature_unit": unit,
                    "product": PRODUCTS[index % len(PRODUCTS)],
                    "infusion_date": infusion,
                    "monitoring_days": 28,
                    "checkin_times": ["08:00", "14:00", "20:00"],
                    "ice_baseline": None,
                },
                enrolled_by=team_info["clinician"], now=now, code_lifetime=timedelta(days=7),
            )
            user, _ = patient_model.activate_patient_account(
                session, code=code, email=f"patient{index}@bench.example.org",
                password=PASSWORD, now=now,
            )
            if status != "active":
                patient_model.update_patient(session, patient, changes={"status": status}, now=now)
            return SeedPatient(
                patient.patient_id, user.user_id, team_index, timezone, language, unit, infusion,
                rng.sample(COMMON_SYMPTOMS, 6),
            )

        # Enrolled patients: infused 3-27 days ago, reporting since.
        for i in range(args.patients):
            result.active.append(enrol(i, today - timedelta(days=rng.randint(3, 27)), "active"))
        session.commit()

        # Schedules of the enrolled patients' history; the rest of the budget goes to patients
        # who finished their 28 days earlier this year.
        schedules = {p.patient_id: report_times(p, now, args.reports_per_day, rng)
                     for p in result.active}
        active_rows = sum(len(s) for s in schedules.values())
        if active_rows > args.history_reports:
            keep = args.history_reports / max(active_rows, 1)
            schedules = {pid: s[len(s) - int(len(s) * keep):] for pid, s in schedules.items()}
            active_rows = sum(len(s) for s in schedules.values())
        past_rows = args.history_reports - active_rows
        n_past = math.ceil(past_rows / per_patient) if past_rows > 0 else 0
        for j in range(n_past):
            infusion = today - timedelta(days=rng.randint(35, 360))
            result.past.append(enrol(args.patients + j, infusion, "completed"))
        session.commit()
        remaining = past_rows
        for p in result.past:
            times = report_times(p, now, args.reports_per_day, rng)[:remaining]
            schedules[p.patient_id] = times
            remaining -= len(times)
        log(f"seeded {len(result.teams)} teams, {len(result.active)} enrolled patients, "
            f"{len(result.past)} past patients through the app's code")

        # Access tokens for the enrolled patients (as the login endpoint would issue them).
        with app.test_request_context():
            for p in result.active:
                user = session.get(User, p.user_id)
                assert user is not None
                auth = start_session(session, user, now=now, lifetime=timedelta(days=1))
                p.token = issue_tokens(user, auth)["access_token"]
        session.commit()

        result.active_history_rows = active_rows
        result.history_rows, result.history_symptom_rows = load_history(
            database, result, schedules, now, rng
        )
    with app.app_context():
        db.engine.dispose()
    result.seconds = time.perf_counter() - started
    return result


def report_times(patient: SeedPatient, now: datetime, per_day: int, rng: random.Random
                 ) -> list[datetime]:
    """Return when a patient reported: per_day check-ins a day over 28 days, up to now."""
    zone = ZoneInfo(patient.timezone)
    hours = [8 + round(12 * k / max(per_day - 1, 1)) for k in range(per_day)]
    times = []
    for day in range(28):
        local_day = patient.infusion_date + timedelta(days=day)
        for hour in hours:
            local = datetime(local_day.year, local_day.month, local_day.day, hour,
                             tzinfo=zone) + timedelta(minutes=rng.randint(-45, 45))
            at = local.astimezone(UTC).replace(microsecond=0)
            if at < now - timedelta(minutes=30):
                times.append(at)
    return times


def load_history(database: str, seed_: Seed, schedules: dict[int, list[datetime]], now: datetime,
                 rng: random.Random) -> tuple[int, int]:
    """Build past reports (judged by the rule engine, without history) and COPY them in."""
    from alerts.evaluate import History, Observation, evaluate, report_level
    from alerts.prompts import build_prompt
    from alerts.units import celsius_to_fahrenheit, to_celsius

    by_id = {p.patient_id: p for p in (*seed_.active, *seed_.past)}
    rows: list[tuple[Any, ...]] = []
    symptom_rows: list[tuple[str, int, int, int]] = []  # client id, patient, code, severity
    prompt_cache: dict[tuple[tuple[str, ...], str, str], dict[str, Any]] = {}
    for patient_id, times in schedules.items():
        patient = by_id[patient_id]
        team = seed_.teams[patient.team_index]
        zone = ZoneInfo(patient.timezone)
        # About half the patients had a fever (CRS) episode of 1-3 days in the first week.
        fever_days = set()
        if rng.random() < 0.5:
            start = rng.randint(0, 6)
            fever_days = set(range(start, start + rng.randint(1, 3)))
        for recorded_at in times:
            day = (recorded_at.astimezone(zone).date() - patient.infusion_date).days
            febrile = day in fever_days and rng.random() < 0.7
            celsius = Decimal(rng.randint(380, 395) if febrile else rng.randint(361, 376)) / 10
            if patient.unit == "F":
                entered = celsius_to_fahrenheit(celsius)
                celsius = to_celsius(entered, "F")
            else:
                entered = celsius
            heart_rate = rng.randint(62, 118 if febrile else 100)
            systolic = rng.randint(96, 140)
            diastolic = rng.randint(58, systolic - 25)
            spo2 = rng.randint(93, 99)
            symptoms = {code: rng.choices((0, 1, 2, 3), (50, 35, 12, 3 if febrile else 0))[0]
                        for code in rng.sample(patient.checklist, rng.randint(2, 4))}
            observation = Observation(
                recorded_at=recorded_at, temperature_c=celsius, heart_rate=heart_rate,
                systolic_bp=systolic, diastolic_bp=diastolic, spo2=spo2, symptoms=symptoms,
                ice=None, antipyretic_last_6h=None,
            )
            findings = evaluate(observation, History(), team["thresholds"])
            key = (tuple(f.rule_id for f in findings), patient.language, team["phone"])
            if key not in prompt_cache:
                prompt = build_prompt(findings, patient.language, team["phone"])
                prompt_cache[key] = {
                    "level": prompt.level, "action": prompt.action, "message": prompt.message,
                    "phone": prompt.phone, "recheck_in_minutes": prompt.recheck_in_minutes,
                    "rule_order": list(key[0]),
                }
            delay = (timedelta(hours=rng.uniform(1, 12)) if rng.random() < 0.03
                     else timedelta(seconds=rng.randint(2, 90)))
            received_at = min(recorded_at + delay, now - timedelta(minutes=1))
            prompt = dict(prompt_cache[key])
            minutes = prompt["recheck_in_minutes"]
            prompt["recheck_at"] = ((received_at + timedelta(minutes=minutes)).isoformat()
                                    if minutes else None)
            client_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            rows.append((
                received_at, patient_id, client_id,
                hashlib.sha256(client_id.encode()).hexdigest(), patient.user_id, "patient",
                recorded_at, received_at, day, int(celsius * 100), int(entered * 100),
                patient.unit, heart_rate, systolic, diastolic, spo2, None, None,
                rng.choice((None, False, False, True)) if febrile else None, None,
                report_level(findings), team["version"], json.dumps(prompt),
            ))
            symptom_rows.extend((client_id, patient_id, c, s) for c, s in symptoms.items())

    # Rows land in the order they arrived (interleaved patients), as in production.
    rows.sort(key=lambda r: r[0])
    with connect(database) as conn, conn.cursor() as cur:
        first_id = cur.execute("SELECT coalesce(max(report_id), 0) + 1 FROM reports").fetchone()[0]
        ids = {}
        with cur.copy(f"COPY reports ({', '.join(REPORT_COLUMNS)}) FROM STDIN") as copy:
            for n, row in enumerate(rows):
                report_id = first_id + n
                ids[row[2]] = report_id
                copy.write_row((report_id, *row[1:]))
        symptom_rows.sort(key=lambda r: ids[r[0]])
        with cur.copy("COPY report_symptoms (report_id, code, severity) FROM STDIN") as copy:
            for client_id, _, code, severity in symptom_rows:
                copy.write_row((ids[client_id], code, severity))
        cur.execute("SELECT setval(pg_get_serial_sequence('reports', 'report_id'), "
                    "(SELECT max(report_id) FROM reports))")
        conn.commit()
    vacuum(database)
    return len(rows), len(symptom_rows)


def vacuum(database: str) -> None:
    with connect(database, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


# --- Server, load, measurements -------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    workers: int
    worker_class: str  # sync | gthread
    threads: int = 1

    @property
    def label(self) -> str:
        if self.worker_class == "gthread":
            return f"gthread -w {self.workers} --threads {self.threads}"
        return f"sync -w {self.workers}"

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        """Parse "sync:3" or "gthread:2x4" (workers x threads)."""
        kind, _, size = text.partition(":")
        if kind == "sync" and size.isdigit():
            return cls(int(size), "sync")
        if kind == "gthread" and re.fullmatch(r"\d+x\d+", size):
            workers, threads = size.split("x")
            return cls(int(workers), "gthread", int(threads))
        raise argparse.ArgumentTypeError(f"not a configuration: {text!r} (sync:N or gthread:NxT)")


def start_server(config: ServerConfig, port: int, database: str, secret: str,
                 token_minutes: int, log_path: Path) -> subprocess.Popen[bytes]:
    cmd = [str(VENV_BIN / "gunicorn"), "-w", str(config.workers), "-b", f"127.0.0.1:{port}",
           "--no-control-socket", "--log-level", "warning"]
    if config.worker_class == "gthread":
        cmd += ["-k", "gthread", "--threads", str(config.threads)]
    cmd.append("api:create_app()")
    env = dict(os.environ, DATABASE_URL=sqlalchemy_url(database), SECRET_KEY=secret,
               LOG_LEVEL="WARNING", ACCESS_TOKEN_MINUTES=str(token_minutes))
    with log_path.open("wb") as log_file:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError, urllib.error.URLError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /readyz in time")


def children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_snapshot() -> dict[int, tuple[str, int, int]]:
    """Return {pid: (comm, start time, utime + stime in clock ticks)} of every process."""
    snapshot = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            snapshot[int(entry.name)] = (comm, int(fields[19]), int(fields[11]) + int(fields[12]))
    return snapshot


def postgres_pids(database: str) -> set[int]:
    """Backends of ``database`` and PostgreSQL's own background processes (not other databases')."""
    with connect(database) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s OR datname IS NULL", (database,)
        ).fetchall()
    return {pid for (pid,) in rows}


def busy_fraction(seconds: float = 2.0) -> float:
    """Share of all CPUs busy over ``seconds`` (from /proc/stat): is the machine idle?"""

    def read() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle

    total0, idle0 = read()
    time.sleep(seconds)
    total1, idle1 = read()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_idle(limit: float, threshold: float = 0.10) -> float:
    """Wait (at most ``limit`` s) until the machine is < ``threshold`` busy; return the last
    reading. Other work on a small machine skews latency figures."""
    busy = busy_fraction()
    deadline = time.monotonic() + limit
    if busy > threshold and limit > 0:
        log(f"the machine is {100 * busy:.0f}% busy: waiting up to {limit:.0f} s for it to "
            "quieten")
    while busy > threshold and time.monotonic() < deadline:
        busy = busy_fraction()
    if busy > threshold:
        log(f"WARNING: the machine is {100 * busy:.0f}% busy (something else is running)")
    return busy


def cpu_by_group(before: dict[int, tuple[str, int, int]], after: dict[int, tuple[str, int, int]],
                 server_pids: set[int], pg_pids: set[int]) -> dict[str, float]:
    """CPU seconds used between two snapshots, by gunicorn / postgres / wrk / other.

    ---
    "postgres" is this benchmark's database's backends and the server's background processes
    (WAL writer, checkpointer...); backends of other databases count as "other".
    """
    ticks = os.sysconf("SC_CLK_TCK")
    groups: Counter[str] = Counter()
    for pid, (comm, started, total) in after.items():
        # Same pid and start time: the same process (kernel threads change their comm).
        same = pid in before and before[pid][1] == started
        used = total - before[pid][2] if same else total
        if pid in server_pids:
            group = "gunicorn"
        elif comm == "postgres" and pid in pg_pids:
            group = "postgres"
        elif comm == "wrk":
            group = "wrk"
        else:
            group = "other"
        groups[group] += used / ticks
    return dict(groups)


RESULT_LINE = re.compile(r"^INTAKE_RESULT (.*)$", re.M)


def run_wrk(args: argparse.Namespace, port: int, datafile: Path, duration: int
            ) -> tuple[dict[str, Any], str]:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency",
           "--timeout", "10s", "-s", str(BENCH / "intake.lua"), f"http://127.0.0.1:{port}",
           "--", str(datafile)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{output}")
    match = RESULT_LINE.search(output)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if match is None or rps is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    values: dict[str, Any] = {}
    for item in match.group(1).split():
        key, _, value = item.partition("=")
        values[key] = value if key == "statuses" else float(value)
    merged: Counter[str] = Counter()
    for item in values["statuses"].split(","):
        code, _, count = item.partition(":")
        if count.isdigit():
            merged[code] += int(count)
    values["statuses"] = ",".join(f"{code}:{n}" for code, n in sorted(merged.items())) or "-"
    values["rps"] = float(rps.group(1))
    values["samples"] = re.findall(r"^INTAKE_SAMPLE (.*)$", output, re.M)
    values["socket_errors"] = int(sum(values[k] for k in ("connect", "read", "write", "timeout")))
    return values, output


def what_the_rules_did(database: str, after_report_id: int) -> dict[str, Any]:
    """Levels of the reports stored after ``after_report_id``, findings per report, and more."""
    with connect(database) as conn:
        levels = dict(conn.execute(
            "SELECT level, count(*) FROM reports WHERE report_id > %s GROUP BY level",
            (after_report_id,)).fetchall())
        findings = conn.execute("SELECT count(*) FROM report_findings WHERE report_id > %s",
                                (after_report_id,)).fetchone()[0]
        new_flags = conn.execute("SELECT count(*) FROM flags WHERE first_report_id > %s",
                                 (after_report_id,)).fetchone()[0]
        outbox = None
        if conn.execute("SELECT to_regclass('outbox')").fetchone()[0] is not None:
            outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    total = sum(levels.values()) or 1
    return {
        "levels": {k: round(v / total, 3) for k, v in sorted(levels.items())},
        "findings_per_report": round(findings / total, 2),
        "new_flags": new_flags,
        "outbox_rows": outbox,
    }


def copy_database(source: str, target: str) -> None:
    """Make ``target`` a fresh copy of ``source`` (PostgreSQL's CREATE DATABASE ... TEMPLATE)."""
    with connect("postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


PROJECT_PACKAGES = ("api/", "models/", "alerts/", "schemas/")


def py_spy_summary(paths: list[Path], top: int = 22) -> str:
    """Summarise py-spy raw (collapsed) stacks of the workers' request threads.

    ---
    Shares are of the samples taken inside a request (under ``Flask.wsgi_app``), so the time a
    sync worker waits in accept() or a gthread worker's idle threads do not dilute them; py-spy
    samples threads waiting on PostgreSQL too, so this is wall time, not CPU time.
    """
    inclusive: Counter[str] = Counter()
    own_package: Counter[str] = Counter()
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                stack, _, count_text = line.rpartition(" ")
                if not count_text.isdigit() or "Flask.wsgi_app" not in stack:
                    continue
                count = int(count_text)
                frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
                total += count
                for frame in set(frames):
                    where = frame[frame.rfind("(") + 1 : -1]
                    if where.startswith(PROJECT_PACKAGES):
                        inclusive[frame] += count
                leaf = frames[-1]
                where = leaf[leaf.rfind("(") + 1 : -1]
                own_package[where.split("/", 1)[0].removesuffix(".py")] += count
    if not total:
        return "(no py-spy samples inside requests)"
    lines = [f"py-spy: {total} samples inside requests; project functions, inclusive share:"]
    for frame, count in inclusive.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    lines.append("where the samples were (innermost frame's package):")
    for package, count in own_package.most_common(10):
        lines.append(f"  {100 * count / total:5.1f}%  {package}")
    return "\n".join(lines)


def run_config(args: argparse.Namespace, config: ServerConfig, database: str, secret: str,
               datafile: Path, n_patients: int) -> dict[str, Any]:
    port = free_port()
    slug = config.label.replace(" ", "").replace("-", "_")
    log_path = RESULTS / f"gunicorn-{slug}.log"
    proc = start_server(config, port, database, secret, args.token_minutes, log_path)
    log(f"gunicorn {config.label} on 127.0.0.1:{port}, pid {proc.pid} (log {log_path})")
    spies: list[subprocess.Popen[bytes]] = []
    try:
        wait_ready(proc, port)
        warmup: dict[str, Any] = {}
        if args.warmup > 0:
            log(f"warm-up: {args.warmup} s")
            warmup, _ = run_wrk(args, port, datafile, args.warmup)
        rows_before = scalar(database, "SELECT count(*) FROM reports")
        first_new_id = scalar(database, "SELECT coalesce(max(report_id), 0) FROM reports")
        server_pids = {proc.pid, *children(proc.pid)}
        idle_check = busy_fraction()
        deadline = time.monotonic() + args.wait_idle
        if idle_check > 0.10 and args.wait_idle > 0:
            log(f"the machine is {100 * idle_check:.0f}% busy: waiting up to {args.wait_idle} s "
                "for it to quieten")
        while idle_check > 0.10 and time.monotonic() < deadline:
            idle_check = busy_fraction()
        if idle_check > 0.10:
            log(f"WARNING: the machine was {100 * idle_check:.0f}% busy just before the "
                "measured run (something else is running): figures will be low")
        spy_paths = []
        if args.py_spy:
            for pid in children(proc.pid):
                path = RESULTS / f"py-spy-{slug}-{pid}.txt"
                spy_paths.append(path)
                spies.append(subprocess.Popen(
                    [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw",
                     "--rate", "200", "--duration", str(args.duration), "--nonblocking",
                     "--output", str(path)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))
        log(f"measured run: {args.duration} s, {args.connections} connections, "
            f"{args.threads} wrk threads")
        cpu_before, window_start = cpu_snapshot(), time.monotonic()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        measured, output = run_wrk(args, port, datafile, args.duration)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        pg_pids = postgres_pids(database)
        cpu_after, window = cpu_snapshot(), time.monotonic() - window_start
        server_pids |= set(children(proc.pid))
        rows_after = scalar(database, "SELECT count(*) FROM reports")
        judged = what_the_rules_did(database, first_new_id)
        for spy in spies:
            spy.wait(timeout=60)
        cpu = cpu_by_group(cpu_before, cpu_after, server_pids, pg_pids)
        # wrk has exited (and been reaped) by now: its CPU time is in our children's usage.
        cpu["wrk"] = (children_after.ru_utime + children_after.ru_stime
                      - children_before.ru_utime - children_before.ru_stime)
        requests = measured["requests"] or 1
        return {
            "config": config.label,
            "workers": config.workers,
            "worker_class": config.worker_class,
            "threads_per_worker": config.threads,
            "rps": measured["rps"],
            "p50_ms": measured["p50_us"] / 1000,
            "p90_ms": measured["p90_us"] / 1000,
            "p99_ms": measured["p99_us"] / 1000,
            "max_ms": measured["max_us"] / 1000,
            "mean_ms": measured["mean_us"] / 1000,
            "requests": int(measured["requests"]),
            "non201": int(measured["non201"]),
            "statuses": measured["statuses"],
            "socket_errors": measured["socket_errors"],
            "samples": measured["samples"],
            "warmup_rps": warmup.get("rps"),
            "warmup_non201": int(warmup.get("non201", 0)),
            "rows_before": rows_before,
            "rows_after": rows_after,
            "rules": judged,
            "new_rows_per_patient": round((rows_after - rows_before) / n_patients, 1),
            "busy_before_run": round(idle_check, 3),
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "cpu_ms_per_request": {k: round(1000 * v / requests, 2) for k, v in cpu.items()},
            "cpu_utilisation": round(sum(cpu.values()) / window / (os.cpu_count() or 1), 2),
            "py_spy": py_spy_summary(spy_paths) if spy_paths else None,
            "wrk_output": output,
        }
    finally:
        for spy in spies:
            if spy.poll() is None:
                spy.terminate()
                spy.wait(timeout=10)
        stop_server(proc)


# --- Main ----------------------------------------------------------------------------------------


def write_lua_data(path: Path, patients: list[SeedPatient]) -> None:
    lines = ["return { patients = {"]
    for p in patients:
        codes = ", ".join(f'"{c}"' for c in p.checklist)
        lines.append(f'  {{ id = {p.patient_id}, token = "{p.token}", unit = "{p.unit}", '
                     f"symptoms = {{ {codes} }} }},")
    lines.append("} }")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def print_summary(info: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    m = info["machine"]
    print()
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, PostgreSQL "
          f"{m['postgresql']}, Python {m['python']}, {m['wrk']}")
    print(f"data: {info['history_rows']} history reports ({info['active_history_rows']} of the "
          f"{info['patients']} enrolled patients, the rest of {info['past_patients']} past "
          f"patients), {info['history_symptom_rows']} symptom rows")
    print(f"load: wrk -t{info['threads']} -c{info['connections']} -d{info['duration']}s, "
          f"warm-up {info['warmup']} s per configuration")
    header = (f"{'configuration':<26} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'non-201':>7} {'rows before':>11} {'rows after':>10}  "
              "CPU ms/req (gunicorn/postgres/wrk/other)")
    print(header)
    for r in runs:
        cpu = r["cpu_ms_per_request"]
        print(f"{r['config']:<26} {r['rps']:>7.1f} {r['p50_ms']:>7.2f} {r['p90_ms']:>7.2f} "
              f"{r['p99_ms']:>7.2f} {r['max_ms']:>7.1f} {r['non201']:>7d} {r['rows_before']:>11d} "
              f"{r['rows_after']:>10d}  {cpu.get('gunicorn', 0):.2f}/"
              f"{cpu.get('postgres', 0):.2f}/{cpu.get('wrk', 0):.2f}/{cpu.get('other', 0):.2f} "
              f"(CPU busy {100 * r['cpu_utilisation']:.0f}%)")
    for r in runs:
        rules = r["rules"]
        mix = ", ".join(f"{k} {100 * v:.0f}%" for k, v in rules["levels"].items())
        print(f"rules [{r['config']}]: levels {mix}; {rules['findings_per_report']} findings per "
              f"report, {rules['new_flags']} new flags; {r['new_rows_per_patient']} new reports "
              "per patient during the run")
    for r in runs:
        if r["py_spy"]:
            print(f"\n[{r['config']}] {r['py_spy']}")
    target = [r for r in runs if r["rps"] >= 800 and r["p99_ms"] <= 25]
    print("\ntarget (>= 800 req/s at 8 connections, p99 <= 25 ms): "
          + ("met by " + ", ".join(r["config"] for r in target) if target else "NOT met"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30, help="measured run, seconds")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up run, seconds (0: none)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--gthreads", type=int, default=2,
                        help="threads per worker with --worker-class gthread")
    parser.add_argument("--config", dest="configs", action="append", type=ServerConfig.parse,
                        metavar="sync:N|gthread:NxT",
                        help="server configuration to measure; repeat to compare several "
                             "(overrides --workers/--worker-class/--gthreads)")
    parser.add_argument("--patients", type=int, default=200, help="enrolled patients with logins")
    parser.add_argument("--history-reports", type=int, default=100_000,
                        help="past reports in the database before the runs")
    parser.add_argument("--reports-per-day", type=int, default=3)
    parser.add_argument("--teams", type=int, default=4)
    parser.add_argument("--database", default="cartwatch_bench")
    parser.add_argument("--token-minutes", type=int, default=120)
    parser.add_argument("--py-spy", action="store_true",
                        help="sample every gunicorn worker with py-spy during the measured run "
                             "(needs py-spy in the virtualenv; slows the server a little)")
    parser.add_argument("--wait-idle", type=int, default=180, metavar="SECONDS",
                        help="before each measured run, wait up to this long for the machine "
                             "to be < 10%% busy (other work on it skews the figures)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--seed", type=int, default=20261121, help="random seed of the data")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    if args.patients < 1:
        parser.error("--patients must be at least 1")
    if not args.configs:
        args.configs = [ServerConfig(args.workers, args.worker_class,
                                     args.gthreads if args.worker_class == "gthread" else 1)]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    if args.py_spy and not (VENV_BIN / "py-spy").exists():
        print("--py-spy needs py-spy in the virtualenv: .venv/bin/pip install py-spy",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    RESULTS.mkdir(exist_ok=True)
    rng = random.Random(args.seed)
    secret = secrets.token_urlsafe(48)
    datafile = RESULTS / f"intake-data-{args.database}.lua"
    seed_copy = f"{args.database}_seed"
    runs: list[dict[str, Any]] = []
    # One benchmark per database name at a time: a second one would drop the first's database.
    guard = connect("postgres", autocommit=True)
    locked = guard.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                           (f"cartwatch-bench:{args.database}",)).fetchone()[0]
    if not locked:
        guard.close()
        print(f"another benchmark is using the database {args.database}: wait for it, or pass "
              "--database", file=sys.stderr)
        return 2
    try:
        log(f"creating database {args.database} and migrating")
        recreate_database(args.database)
        migrate(args.database, secret)
        log(f"seeding {args.patients} patients and {args.history_reports} history reports")
        data = seed(args.database, secret, args, rng)
        log(f"seeded in {data.seconds:.0f} s: {data.history_rows} reports, "
            f"{data.history_symptom_rows} symptom rows")
        write_lua_data(datafile, data.active)
        # Every configuration starts from an identical copy of the seeded database.
        copy_database(args.database, seed_copy)
        for n, config in enumerate(args.configs):
            if n:
                copy_database(seed_copy, args.database)
            runs.append(run_config(args, config, args.database, secret, datafile,
                                   len(data.active)))
            r = runs[-1]
            log(f"{config.label}: {r['rps']:.1f} req/s, p50 {r['p50_ms']:.2f} ms, "
                f"p99 {r['p99_ms']:.2f} ms, non-201 {r['non201']}")
        info = {
            "machine": machine(),
            "duration": args.duration, "warmup": args.warmup,
            "connections": args.connections, "threads": args.threads,
            "patients": len(data.active), "past_patients": len(data.past),
            "history_rows": data.history_rows, "active_history_rows": data.active_history_rows,
            "history_symptom_rows": data.history_symptom_rows,
            "reports_per_day": args.reports_per_day, "teams": args.teams,
        }
        print_summary(info, runs)
        if args.json:
            args.json.write_text(json.dumps({"info": info, "runs": runs}, indent=2, default=str))
    finally:
        with contextlib.suppress(Exception):
            drop_database(seed_copy)
        if not args.keep:
            with contextlib.suppress(Exception):
                drop_database(args.database)
            datafile.unlink(missing_ok=True)
        guard.close()
    failed = [r for r in runs if r["non201"] or r["warmup_non201"] or r["socket_errors"]]
    for r in failed:
        print(f"\nFAILED [{r['config']}]: {r['non201']} non-201 answers "
              f"({r['statuses']}), {r['warmup_non201']} in the warm-up, "
              f"{r['socket_errors']} socket errors", file=sys.stderr)
        for sample in r["samples"]:
            print(f"  e.g. {sample}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
