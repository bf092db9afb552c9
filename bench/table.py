#!/usr/bin/python3
"""table.py -- bench.sh's results (JSON lines) as one Markdown table.

usage: table.py RESULTS.jsonl N NODE_N [LOADAVG_AT_START]
"""
import json
import os
import platform
import sys


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def fmt(v, spec):
    return "" if v is None else format(v, spec)


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    n, node_n = int(sys.argv[2]), int(sys.argv[3])
    load = sys.argv[4] if len(sys.argv) > 4 else "?"
    print("Machine: %d cores (nproc), %s, Linux %s; load average %s at the start; "
          "N = %d records of 100 B (Node peers: %d)."
          % (os.cpu_count(), cpu_model(), platform.release(), load, n, node_n))
    print()
    print("| benchmark | subject | records/s | CPU µs/record | RSS MiB | "
          "latency p50 / p99 / p99.9 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    order = ["producer", "latency", "aggregation", "consumer", "memory"]
    for b in order:
        for r in rows:
            if r["bench"] != b:
                continue
            lat = ""
            if "p50" in r:
                lat = "%.2f / %.2f / %.2f" % (r["p50"], r["p99"], r["p999"])
            print("| %s | %s | %s | %s | %s | %s |" % (
                b, r["subject"], fmt(r.get("rps"), ",.0f"), fmt(r.get("cpu_us"), ".2f"),
                fmt(r.get("rss"), ".1f"), lat))


if __name__ == "__main__":
    main()
