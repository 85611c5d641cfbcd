#!/usr/bin/env python3
"""Times the Due screen's counts query for "Mine": one name compared exactly (the form before
2026-12-06) against the names in a JSON array, spaces around and capitals aside (the form in
src/store/queries.rs). Reads a notebook, never writes it.

    python3 benches/due_mine.py NOTEBOOK.sqlite3     # e.g. a copy of GROUNDWORK_UI_10K_DIR's
"""
import json
import sqlite3
import sys
import time

OPEN = "SELECT count(*) FROM commitments c WHERE c.status = 'open' AND (?1 IS NULL OR EXISTS " \
       "(SELECT 1 FROM conversations v WHERE v.id = c.conversation_id AND v.person_id = c.person_id AND {}))"
EXACT = OPEN.format("v.canvasser = ?1")
NAMES = OPEN.format("(?1 IS NULL OR lower(trim(v.canvasser)) IN "
                    "(SELECT lower(trim(value)) FROM json_each(?1)))")


def timed(conn, query, param, runs=20):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        (n,) = conn.execute(query, (param,)).fetchone()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return n, times[len(times) // 2], times[-1]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    (name,) = conn.execute(
        "SELECT canvasser FROM conversations GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()
    for label, query, param in [
        ("one name, exact (before)", EXACT, name),
        ("one name, the names' form", NAMES, json.dumps([name])),
        ("three names", NAMES, json.dumps([name, "Sam", "Ana Okafor"])),
    ]:
        n, median, worst = timed(conn, query, param)
        print(f"{label}: {n} open commitments, median {median:.2f} ms, max {worst:.2f} ms")


if __name__ == "__main__":
    main()
