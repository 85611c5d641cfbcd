#!/usr/bin/env python3
"""Names and counts the pages the app's save writes, from the output of
`cargo run --release --example save_pages` (one line of page numbers a save): each page
named by SQLite's `dbstat` on the notebook as it is after the saves (the table or index the
page belongs to then: a page freed or reused during the run is named by its last use; `free`
for one not in any table or index now, on the freelist), counted per save, most first.
Reads the notebook, never writes it.

    python3 benches/save_pages.py NOTEBOOK.sqlite3 FRAMES.txt
"""
import collections
import sqlite3
import sys

db, frames = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
names = {page: name for name, page in conn.execute("SELECT name, pageno FROM dbstat")}
counts = collections.Counter()
saves = 0
with open(frames) as f:
    for line in f:
        pages = [int(x) for x in line.split()]
        if not pages:
            continue
        saves += 1
        for page in pages:
            counts[names.get(page, "free")] += 1
if saves == 0:
    sys.exit("no saves in " + frames)
print(f"{saves} saves, {sum(counts.values()) / saves:.1f} pages written a save:")
for name, n in counts.most_common():
    print(f"{n / saves:6.2f}  {name}")
