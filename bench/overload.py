#!/usr/bin/env python3
"""Overload benchmark (issue 14, item 5): agentd at 3x its capacity.

For each repetition, alternating agentd with admission by queueing delay on
(the default: 5 ms target, 100 ms interval) and off (--admit-target-ms 0,
the baseline: only the 4,096-deep class queue limits):

  1. capacity: closed loop, 4 connections, 1 ms compute calls of one
     session (they queue on the session's owner shard), 3 s -> C req/s;
  2. open loop at 3 x C req/s on 64 connections (build/bin/overload-load
     --rate), 8 s, with 400 slow-loris connections and a /healthz probe
     every 10 ms on its own connection (the API port: there is no admin
     listener on main yet);
  3. closed loop with 400 connections, 8 s, the same slow loris and probe;
  4. idle check: GET /v1/agents must show 0 calls in flight, and one more
     call must be answered 200 (counters back to idle).

Reports medians and ranges over the repetitions; asserts the work was done
(answers counted, every 503 carries Retry-After, idle afterwards).

  bench/overload.py [--runs 3] [--seconds 8] [--json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
BODY = '{"session_id":"one","input":350000}'


def start_agentd(extra):
    p = subprocess.Popen([f"{BIN}/agentd", "--port", "0", "--quiet"] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        sys.exit(f"agentd did not start: {line!r}")
    return p, int(m.group(1))


def load(port, args):
    out = subprocess.run([f"{BIN}/overload-load", "--port", str(port), "--body", BODY] + args,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"overload-load failed: {out.stderr}")
    return json.loads(out.stdout)


def agents(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/agents", timeout=5) as r:
        return {a["name"]: a["counters"] for a in json.load(r)["agents"]}


def idle_check(port):
    """Counters back to idle: nothing in flight, and a lone call is admitted."""
    deadline = time.time() + 10
    while time.time() < deadline:
        c = agents(port)
        if all(v["inflight"] == 0 for v in c.values()):
            break
        time.sleep(0.05)
    c = agents(port)
    inflight = sum(v["inflight"] for v in c.values())
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/agents/compute/invoke",
                                 data=BODY.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        status = r.status
    return {"inflight_after": inflight, "lone_call_status": status,
            "shed": c["compute"]["shed"], "rejected": c["compute"]["rejected"]}


def one_run(admission, seconds):
    extra = [] if admission else ["--admit-target-ms", "0"]
    p, port = start_agentd(extra)
    try:
        cap = load(port, ["--seconds", "3", "--closed", "--conns", "4"])
        capacity = cap["ok_rps"]
        open_ = load(port, ["--seconds", str(seconds), "--rate", str(3 * capacity), "--conns", "64",
                            "--slowloris", "400"])
        closed = load(port, ["--seconds", str(seconds), "--closed", "--conns", "400",
                             "--slowloris", "400"])
        idle = idle_check(port)
    finally:
        p.terminate()
        p.wait(timeout=15)
    for r in (open_, closed):
        assert r["ok"] > 0, f"no call was answered: {r}"
        assert r["503_without_retry_after"] == 0, f"a 503 without Retry-After: {r}"
    assert idle["inflight_after"] == 0 and idle["lone_call_status"] == 200, idle
    return {"capacity_rps": capacity, "open": open_, "closed": closed, "idle": idle}


def med(vals):
    return {"median": round(statistics.median(vals), 2), "min": round(min(vals), 2),
            "max": round(max(vals), 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(f"{BIN}/overload-load"):
        sys.exit("build first: cmake --build --preset release")
    res = {True: [], False: []}
    for i in range(a.runs):
        for admission in (True, False):  # alternating A/B
            r = one_run(admission, a.seconds)
            res[admission].append(r)
            print(f"run {i} admission={'on' if admission else 'off'}: capacity "
                  f"{r['capacity_rps']} rps; open {json.dumps(r['open'])}; "
                  f"closed {json.dumps(r['closed'])}; idle {r['idle']}", file=sys.stderr)
    summary = {}
    for admission, runs in res.items():
        s = {"capacity_rps": med([r["capacity_rps"] for r in runs])}
        for mode in ("open", "closed"):
            s[mode] = {
                "ok_rps": med([r[mode]["ok_rps"] for r in runs]),
                "503": med([r[mode]["503"] for r in runs]),
                "ok_p50_ms": med([r[mode]["ok_ms"]["p50"] for r in runs]),
                "ok_p99_ms": med([r[mode]["ok_ms"]["p99"] for r in runs]),
                "ok_max_ms": med([r[mode]["ok_ms"]["max"] for r in runs]),
                "healthz_p99_ms": med([r[mode]["healthz_ms"]["p99"] for r in runs]),
                "healthz_max_ms": med([r[mode]["healthz_ms"]["max"] for r in runs]),
                "conn_errors": med([r[mode]["conn_errors"] for r in runs]),
            }
        summary["admission_on" if admission else "admission_off"] = s
    summary["load"] = os.getloadavg()
    print(json.dumps(summary, indent=None if a.json else 1))


if __name__ == "__main__":
    main()
