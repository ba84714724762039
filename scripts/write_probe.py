"""The sequential-write ceiling `sample` is held to: writes BYTES bytes to a fresh file
in 8 MiB blocks (as many files' worth of bytes as the dataset holds, no fsync, like
`sample`), then deletes it; prints one JSON line {"wall_s", "mb_s"}.

    python3 scripts/write_probe.py PATH BYTES"""

import json
import os
import sys
import time

path, total = sys.argv[1], int(sys.argv[2])
block = bytes(range(256)) * (8 << 12)  # 8 MiB, not all zeros
start = time.monotonic()
with open(path, "wb", buffering=0) as out:
    left = total
    while left > 0:
        n = min(left, len(block))
        out.write(block[:n] if n < len(block) else block)
        left -= n
wall = time.monotonic() - start
os.remove(path)
print(json.dumps({"wall_s": wall, "mb_s": total / wall / 1e6}))
