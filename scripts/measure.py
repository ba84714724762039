"""Runs a command and reports its wall time, peak RSS and peak anonymous RSS.

    python3 scripts/measure.py -- negsamp sample ...

Peak RSS (VmHWM) counts the pages of a mapped store that the run touched; peak
anonymous RSS (RssAnon, polled every 20 ms) is the memory the run itself allocated —
the figure that must stay flat as the store grows. Prints one JSON line on stderr
after the command's own output."""

import json
import subprocess
import sys
import time


def status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "RssAnon"):
                    fields[key] = int(value.split()[0])
    except FileNotFoundError:
        pass
    return fields


def main():
    command = sys.argv[sys.argv.index("--") + 1:]
    start = time.monotonic()
    proc = subprocess.Popen(command)
    peak_anon_kb = peak_hwm_kb = 0
    while proc.poll() is None:
        s = status(proc.pid)
        peak_anon_kb = max(peak_anon_kb, s.get("RssAnon", 0))
        peak_hwm_kb = max(peak_hwm_kb, s.get("VmHWM", 0))
        time.sleep(0.02)
    wall = time.monotonic() - start
    print(json.dumps({"wall_s": round(wall, 3), "peak_rss_mb": round(peak_hwm_kb / 1024, 1),
                      "peak_anon_mb": round(peak_anon_kb / 1024, 1), "exit": proc.returncode}),
          file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
