"""The sequential-write ceilings `sample` is held to: writes BYTES bytes to a fresh file
in 8 MiB blocks (as many files' worth of bytes as the dataset holds, no fsync, like
`sample`), then deletes it — once through the page cache (a plain writer) and once
past it (`O_DIRECT`, what `negsamp --write-mode direct`, the default, does); prints
one JSON line {"wall_s", "mb_s", "direct_wall_s", "direct_mb_s"}.

    python3 scripts/write_probe.py PATH BYTES"""

import json
import mmap
import os
import sys
import time

BLOCK = 8 << 20
path, total = sys.argv[1], int(sys.argv[2])


def buffered() -> float:
    block = bytes(range(256)) * (BLOCK // 256)  # not all zeros
    start = time.monotonic()
    with open(path, "wb", buffering=0) as out:
        left = total
        while left > 0:
            n = min(left, BLOCK)
            out.write(block[:n] if n < BLOCK else block)
            left -= n
    wall = time.monotonic() - start
    os.remove(path)
    return wall


def direct() -> float:
    block = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT asks
    block.write(bytes(range(256)) * (BLOCK // 256))
    start = time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT)
    try:
        left = total
        while left > 0:
            n = min(left, BLOCK)
            os.write(fd, memoryview(block)[: (n + 4095) // 4096 * 4096])  # whole blocks
            left -= n
        os.ftruncate(fd, total)
    finally:
        os.close(fd)
    wall = time.monotonic() - start
    os.remove(path)
    return wall


plain, past_cache = buffered(), direct()
print(json.dumps({"wall_s": plain, "mb_s": total / plain / 1e6,
                  "direct_wall_s": past_cache, "direct_mb_s": total / past_cache / 1e6}))
