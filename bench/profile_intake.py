"""Profile one report submission path in-process, on a database left by ``intake.py --keep``.

    .venv/bin/python bench/intake.py --duration 3 --warmup 0 --keep      # seed, keep the database
    .venv/bin/python bench/profile_intake.py [--requests 500] [--pyinstrument]

Sends ``--requests`` report submissions (the same bodies as bench/intake.lua) through the WSGI
app with Flask's test client (no HTTP server, one thread), and prints the wall time per request,
the SQL statements per request (count and time, grouped), and either pyinstrument's call tree
(``--pyinstrument``; needs ``pip install pyinstrument`` in the virtualenv) or cProfile's top
functions by cumulative time. Rows it writes stay in the database (drop it with intake.py or
``dropdb``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import random
import re
import secrets
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import COMMON_SYMPTOMS, sqlalchemy_url  # noqa: E402


def body(rng: random.Random, unit: str, checklist: list[str]) -> dict[str, Any]:
    """Return a report body like bench/intake.lua makes."""
    fever = rng.random() < 0.10
    celsius = 38.0 + rng.randint(0, 15) / 10 if fever else 36.0 + rng.randint(0, 17) / 10
    value = round(celsius * 9 / 5 + 32, 1) if unit == "F" else round(celsius, 1)
    systolic = rng.randint(98, 142)
    r = [rng.random() for _ in range(3)]
    return {
        "client_report_id": str(uuid.uuid4()),
        "recorded_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "temperature": {"value": value, "unit": unit},
        "heart_rate": rng.randint(58, 112),
        "systolic_bp": systolic,
        "diastolic_bp": rng.randint(58, systolic - 25),
        "spo2": rng.randint(93, 99),
        "symptoms": [
            {"code": code, "severity": 0 if x < 0.5 else 1 if x < 0.85 else 2}
            for code, x in zip(rng.sample(checklist, rng.randint(2, 3)), r, strict=False)
        ],
    }


def shape(statement: str) -> str:
    """Group SQL statements: literal-free, first 110 characters."""
    text = re.sub(r"\s+", " ", statement).strip()
    text = re.sub(r"%\(\w+\)s|\$\d+|'[^']*'|\b\d+\b", "?", text)
    text = re.sub(r"(\(\?(, \?)*\)(, )?)+", "(...)", text)
    return text[:110]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="cartwatch_bench")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--patients", type=int, default=200, help="rotate over this many")
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()

    from sqlalchemy import event, select

    from api import create_app
    from api.auth import issue_tokens
    from api.extensions import db
    from models.patients import Patient
    from models.users import User, start_session

    app = create_app({"DATABASE_URL": sqlalchemy_url(args.database),
                      "SECRET_KEY": secrets.token_urlsafe(48), "LOG_LEVEL": "WARNING"})
    rng = random.Random(7)
    targets = []
    with app.app_context():
        rows = db.session.execute(
            select(Patient.patient_id, Patient.user_id, Patient.temperature_unit)
            .where(Patient.status == "active", Patient.user_id.is_not(None))
            .order_by(Patient.patient_id).limit(args.patients)
        ).all()
        now = datetime.now(UTC)
        with app.test_request_context():
            for patient_id, user_id, unit in rows:
                user = db.session.get(User, user_id)
                auth = start_session(db.session, user, now=now, lifetime=timedelta(hours=2))
                token = issue_tokens(user, auth)["access_token"]
                targets.append((patient_id, unit, token, rng.sample(COMMON_SYMPTOMS, 6)))
        db.session.commit()
        engine = db.engine
    if not targets:
        print(f"no enrolled patients in {args.database}: run intake.py --keep first")
        return 2

    statements: Counter[str] = Counter()
    statement_time: defaultdict[str, float] = defaultdict(float)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        key = shape(statement)
        statements[key] += 1
        statement_time[key] += time.perf_counter() - conn.info.pop("t0", time.perf_counter())

    client = app.test_client()

    def send(n: int) -> None:
        for i in range(n):
            patient_id, unit, token, checklist = targets[i % len(targets)]
            answer = client.post(f"/api/v1/patients/{patient_id}/reports",
                                 json=body(rng, unit, checklist),
                                 headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 201:
                raise SystemExit(f"answer {answer.status_code}: {answer.get_data(as_text=True)}")

    send(min(50, args.requests))  # warm caches, the pool and compiled statements
    statements.clear()
    statement_time.clear()

    profiler: Any
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    else:
        profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable() if not args.pyinstrument else profiler.start()
    send(args.requests)
    profiler.disable() if not args.pyinstrument else profiler.stop()
    wall = time.perf_counter() - started

    n = args.requests
    sql_total = sum(statement_time.values())
    print(f"{n} requests in {wall:.2f} s under the profiler: {1000 * wall / n:.2f} ms/request "
          f"(profiler overhead included); SQL round trips {1000 * sql_total / n:.2f} ms/request")
    print(f"SQL statements per request: {sum(statements.values()) / n:.1f}")
    for key, count in statements.most_common():
        print(f"  {count / n:5.2f} x  {1000 * statement_time[key] / n:6.3f} ms  {key}")
    print()
    if args.pyinstrument:
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    else:
        stats = pstats.Stats(profiler)
        print("own (self) time by package, cProfile:")
        by_package: Counter[str] = Counter()
        for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
            by_package[package_of(filename)] += tottime
        total = sum(by_package.values()) or 1
        for package, seconds in by_package.most_common(16):
            share = 100 * seconds / total
            print(f"  {share:5.1f}%  {1000 * seconds / n:6.2f} ms/request  {package}")
        print()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
    return 0


def package_of(filename: str) -> str:
    """Name the library (or project package) a function's file belongs to."""
    if filename == "~" or filename.startswith("<built-in"):
        return "built-in functions (C)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    path = Path(filename)
    with contextlib.suppress(ValueError):
        relative = path.resolve().relative_to(ROOT)
        return f"project: {relative.parts[0]}/"
    if filename.startswith("<"):
        return "generated code (" + filename[1:30] + ")"
    return "stdlib: " + path.stem


if __name__ == "__main__":
    sys.exit(main())
