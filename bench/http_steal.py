#!/usr/bin/env python3
"""Work stealing end to end (issue 12): compute calls of ONE session over HTTP.

agentd's `compute` agent runs on the session's owner shard and spawns
its work (~1 ms: {"iterations":350000}) as a stealable task, so with two
shards the idle one can take half of one session's work. wrk -t1 -c32
POSTs {"session_id":"one","input":{"iterations":350000}}; agentd runs on
CPU 0 alone (--cpus 0) and on CPUs 0-1 (--cpus 0-1), in alternation, each
run a fresh server. With --baseline DIR, DIR/build/bin/agentd (another
build, e.g. main's) is measured the same way in the same alternation.
Reports per configuration the median and min..max of req/s, p99 and the
server's CPU per request (/proc/PID/stat), and the 2-CPU / 1-CPU req/s
ratio from the medians (the aim: >= 1.8, p99 not worse than 1 CPU's).
Under load from other processes the req/s say little (the shards wait
for a CPU), so each run also reads the shard threads' schedstat (time on
a CPU, time runnable but waiting for one): a shard's demand is
(run + wait) / wall, the share of the run it had work. With perfect
stealing both shards of the 2-CPU server have work all the time; the
"demand_ratio" (summed demand, 2 CPUs over 1 CPU, times the 1-CPU / 2-CPU
CPU per request) estimates the req/s ratio on a machine with the CPUs
free, and "idle_ms_per_s" shows how long the shards slept with calls in
flight (32 connections keep calls queued all the time).
Asserts every answer was a 200. Stops only the processes it started.

  bench/http_steal.py [--baseline DIR] [--runs 5] [--seconds 5] [--quick] [--json]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_agentd import ROOT, Server, agentd_cmd, cpu_ns, free_port, wrk  # noqa: E402

BODY = '{"session_id":"one","input":{"iterations":350000}}'


def thread_stats(pid):
    """{tid: (run_ns, wait_ns)} of a process' threads."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run, wait = f.read().split()[:2]
            out[tid] = (int(run), int(wait))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def demand(before, after, wall_ns, nshards):
    """Summed (run + wait) / wall of the nshards busiest threads, and their
    idle ms per second."""
    busy = sorted(((after[t][0] - before[t][0]) + (after[t][1] - before[t][1])
                   for t in after if t in before), reverse=True)[:nshards]
    return sum(busy) / wall_ns, sum(wall_ns - b for b in busy) / wall_ns * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="another build tree's root (its build/bin/agentd)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.seconds = 1, 2
    builds = [("this", os.path.join(ROOT, "build", "bin", "agentd"))]
    if a.baseline:
        builds.append(("baseline", os.path.join(a.baseline, "build", "bin", "agentd")))
    tmp = tempfile.mkdtemp(prefix="ac-steal-bench-")
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = \'%s\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n' % BODY)
    res = {}
    try:
        for run in range(a.runs):
            for bname, binary in builds:
                for cpus in ("0", "0-1"):
                    port = free_port()
                    s = Server("agentd", agentd_cmd(binary, port, cpus), port)
                    nshards = 1 if cpus == "0" else 2
                    try:
                        c0, t0, w0 = cpu_ns(s.pids), thread_stats(s.proc.pid), time.monotonic_ns()
                        reqs, rps, p99, errs = wrk(port, "/v1/agents/compute/invoke", a.conns,
                                                   a.seconds, lua)
                        cpu = (cpu_ns(s.pids) - c0) / reqs
                        dem, idle = demand(t0, thread_stats(s.proc.pid),
                                           time.monotonic_ns() - w0, nshards)
                    finally:
                        s.stop()
                    r = res.setdefault(f"{bname}/cpus {cpus}", {"rps": [], "p99_ms": [],
                                                                 "cpu_us_per_req": [],
                                                                 "demand": [],
                                                                 "idle_ms_per_s": []})
                    r["demand"].append(dem)
                    r["idle_ms_per_s"].append(idle)
                    r["rps"].append(rps)
                    r["p99_ms"].append(p99)
                    r["cpu_us_per_req"].append(cpu / 1000)
                    print(f"run {run} {bname} cpus {cpus}: {rps:.0f} req/s p99 {p99:.2f} ms "
                          f"cpu {cpu / 1000:.0f} us/req demand {dem:.2f} idle {idle:.0f} ms/s "
                          f"{errs} load {os.getloadavg()[0]:.2f}",
                          file=sys.stderr)
    finally:
        subprocess.run(["rm", "-rf", tmp])
    summary = {k: {m: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                   for m, v in r.items()} for k, r in res.items()}
    ratios = {}
    for bname, _ in builds:
        one, two = summary[f"{bname}/cpus 0"], summary[f"{bname}/cpus 0-1"]
        ratios[bname] = {"rps_2cpu_vs_1cpu": two["rps"]["median"] / one["rps"]["median"],
                         "p99_2cpu_vs_1cpu": two["p99_ms"]["median"] / one["p99_ms"]["median"],
                         "demand_ratio": (two["demand"]["median"] / one["demand"]["median"] *
                                          one["cpu_us_per_req"]["median"] /
                                          two["cpu_us_per_req"]["median"])}
    meta = {"runs": a.runs, "seconds": a.seconds, "conns": a.conns, "body": BODY,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": os.getloadavg()}
    if a.json:
        print(json.dumps({"meta": meta, "results": summary, "ratios": ratios}, indent=1))
        return
    print(f"# {meta['date']}, load {meta['load'][0]:.2f}, {a.runs} runs x {a.seconds} s, "
          f"{a.conns} conns")
    for k, m in summary.items():
        print(f"  {k:18s} " + "  ".join(
            f"{x} {m[x]['median']:.2f} [{m[x]['min']:.2f}..{m[x]['max']:.2f}]" for x in m))
    for b, r in ratios.items():
        print(f"  {b}: 2 CPUs / 1 CPU req/s {r['rps_2cpu_vs_1cpu']:.2f}, "
              f"p99 {r['p99_2cpu_vs_1cpu']:.2f}, demand ratio {r['demand_ratio']:.2f}")


if __name__ == "__main__":
    main()
