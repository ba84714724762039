"""negsamp.spark against the single machine, on the same generated interactions in one
run (issue: Spark local[2] rows/s against the CLI; the single-machine ceiling):

    python3 scripts/bench-spark.py [USERS]       # default 100000 users (~5M interactions)

Both read the same Parquet file and write Parquet: the CLI as `ingest` + `sample`
(wall time and peak RSS of each process), Spark as `negsamp.spark.sample(...)
.write.parquet(...)` in local[2] (one wall time: its catalog/count jobs, the shuffle,
the per-group engine runs and the write). Needs the package installed (pip install
./crates/python), pyspark, and target/release/negsamp."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BIN = str(ROOT / "target" / "release" / "negsamp")
PARAMS = dict(strategy="popularity", ratio=4, seed=42)


def measured(*args):
    """Wall seconds and peak RSS (bytes) of a negsamp command (scripts/measure.py)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "measure.py"), "--", BIN, *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(done.stderr.strip().splitlines()[-1])
    return figures["wall_s"], figures["peak_rss_mb"] * 2**20


def main():
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    from pyspark.sql import SparkSession

    from negsamp import spark as ns

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run([BIN, "generate", "--out", d / "events.csv", "--users", str(users), "--seed", "1", "-q"], check=True)
        events = pd.read_csv(d / "events.csv")
        events.to_parquet(d / "events.parquet", index=False)
        n = len(events)
        del events

        ingest_s, ingest_rss = measured("ingest", d / "events.parquet", "--out", d / "s.store", "-q")
        flags = ["--strategy", "popularity", "--ratio", "4", "--seed", "42", "--format", "parquet", "-q"]
        sample_s, sample_rss = measured("sample", d / "s.store", "--out", d / "cli", *flags)
        rows = json.loads((d / "cli" / "_manifest.json").read_text())["totals"]["rows"]

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "6g")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        df = spark.read.parquet(str(d / "events.parquet"))
        start = time.perf_counter()
        out = ns.sample(df, "user", "item", "timestamp", **PARAMS)  # the driver's jobs run here
        plan_s = time.perf_counter() - start
        out.write.parquet(str(d / "spark"))
        spark_s = time.perf_counter() - start
        spark_rows = spark.read.parquet(str(d / "spark")).count()
        spark.stop()

    cli_s = ingest_s + sample_s
    print(f"machine: {os.cpu_count()} cores; {n:,} interactions ({users:,} users), popularity, ratio 4, Parquet out")
    print(f"{'route':<34} {'seconds':>8} {'rows/s':>12} {'peak RSS':>10}")
    print(f"{'CLI ingest (Parquet in)':<34} {ingest_s:8.2f} {'':>12} {ingest_rss / 2**20:8.0f} MB")
    print(f"{'CLI sample':<34} {sample_s:8.2f} {rows / sample_s:12,.0f} {sample_rss / 2**20:8.0f} MB")
    print(f"{'CLI ingest + sample':<34} {cli_s:8.2f} {rows / cli_s:12,.0f}")
    print(f"{'negsamp.spark local[2] (to Parquet)':<34} {spark_s:8.2f} {spark_rows / spark_s:12,.0f}")
    print(f"{'  of which the plan (catalog, counts)':<34} {plan_s:8.2f}")
    print(f"{'  of which groups sampled + written':<34} {spark_s - plan_s:8.2f}")
    print(f"Spark / CLI (ingest + sample) time: {spark_s / cli_s:.1f}x; same row count: {spark_rows == rows}")
    per_100m = 1e8 / n
    print(
        f"single-machine ceiling: {rows / cli_s:,.0f} rows/s end to end on this machine; "
        f"peak RSS per 100M interactions ~{max(ingest_rss, sample_rss) * per_100m / 2**30:.1f} GiB "
        f"(ingest {ingest_rss * per_100m / 2**30:.1f}, sample {sample_rss * per_100m / 2**30:.1f}; linear in interactions)"
    )


if __name__ == "__main__":
    main()
