"""`python -m bench` (or `make bench`): run every benchmark, print the table, write
docs/benchmarks.md.

Each section runs in its own process with the environment of the setup it measures; the
embedded setup gets a fresh SQLite database under var/bench/, the PostgreSQL + Redis setup
a throwaway database (`studio_bench`, dropped at the end) and a Redis database index of
its own. Options: `--only a,c` runs some sections; `--no-write` leaves the docs alone.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time

from . import report
from .common import (
    PYTHON,
    RESULT_PREFIX,
    ROOT,
    WORK,
    drop_bench_database,
    flush_bench_redis,
    log,
    postgres_reachable,
    recreate_bench_database,
    redis_reachable,
    section_env,
)

# key, module, arguments, setup, time limit (s)
SECTIONS = [
    ("a.floor", "bench.overhead", ["--config", "floor"], "embedded", 60),
    ("a.embedded", "bench.overhead", ["--config", "embedded"], "embedded", 120),
    ("a.scale", "bench.overhead", ["--config", "scale"], "scale", 120),
    ("b.scale", "bench.progress", [], "scale", 120),
    ("c", "bench.inflight", [], "best", 240),
    ("d.embedded", "bench.gallery", [], "embedded", 240),
    ("d.scale", "bench.gallery", [], "scale", 240),
    ("e", "bench.imagework", [], "embedded", 120),
    ("f.embedded", "bench.fanout", [], "embedded", 180),
    ("f.scale", "bench.fanout", [], "scale", 180),
]


def migrate(config: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=section_env(config),
        check=True,
    )


def run_section(key: str, module: str, args: list[str], config: str, limit: int) -> dict:
    started = time.monotonic()
    log(f"[{key}] {module} {' '.join(args)} ({config})")
    try:
        done = subprocess.run(
            [PYTHON, "-m", module, *args],
            cwd=ROOT,
            env=section_env(config),
            stdout=subprocess.PIPE,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {limit}s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        return {"error": f"exited with {done.returncode}; see the output above"}
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    result["seconds"] = round(time.monotonic() - started, 1)
    log(f"[{key}] {json.dumps(result)}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default="", help="comma-separated section keys or letters")
    parser.add_argument("--no-write", action="store_true", help="do not write the docs")
    options = parser.parse_args()
    wanted = {part.strip() for part in options.only.split(",") if part.strip()}

    begun = time.monotonic()
    info = report.machine()
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "var").mkdir(parents=True)
    migrate("embedded")
    unavailable = postgres_reachable() or redis_reachable()
    if unavailable is None:
        recreate_bench_database()
        flush_bench_redis()
        migrate("scale")
    else:
        log(f"PostgreSQL + Redis parts skipped: {unavailable}")

    results: dict[str, dict] = {}
    try:
        for key, module, args, config, limit in SECTIONS:
            if wanted and key not in wanted and key.split(".")[0] not in wanted:
                continue
            if config == "best":
                config = "scale" if unavailable is None else "embedded"
                args = [*args, "--config", config]
            if config == "scale" and unavailable is not None:
                results[key] = {"skipped": unavailable}
                continue
            results[key] = run_section(key, module, args, config, limit)
    finally:
        if unavailable is None:
            drop_bench_database()
            flush_bench_redis()

    elapsed = time.monotonic() - begun
    table = report.table(results)
    print()
    print(table)
    print(f"\n(ran in {elapsed / 60:.1f} minutes)")
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    if not options.no_write and not wanted:
        path = ROOT / "docs" / "benchmarks.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(report.document(results, table, elapsed, info))
        log(f"Wrote {path.relative_to(ROOT)}")
    if any("error" in result for result in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
