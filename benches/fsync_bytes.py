#!/usr/bin/env python3
"""What an fsync costs for the bytes a save writes: `pwrite` N KiB then `fsync`, 200 times
for each size, into a file in DIR (default: the current directory), p50 and p99 in ms.

    python3 benches/fsync_bytes.py [DIR]

A notebook's save writes about 26 pages of 4 KiB to the log (BENCHMARKS.md, "The save
profiled again"); the floor's, 4 or 5.
"""
import os
import sys
import time

path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "fsync-bytes.tmp")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
try:
    for kib in (4, 20, 60, 108, 216):
        data = os.urandom(kib * 1024)
        # The file written to its full size first, so that no timed write extends it.
        for i in range(10):
            os.pwrite(fd, data, i * len(data))
        os.fsync(fd)
        times = []
        for i in range(200):
            t = time.perf_counter()
            os.pwrite(fd, data, (i % 10) * len(data))
            os.fsync(fd)
            times.append(time.perf_counter() - t)
        times.sort()
        # Nearest rank: the 100th and the 198th of 200.
        print(f"{kib:4d} KiB: p50 {times[99] * 1e3:.3f} ms, p99 {times[197] * 1e3:.3f} ms")
finally:
    os.close(fd)
    os.unlink(path)
