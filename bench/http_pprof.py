#!/usr/bin/env python3
"""What a running CPU profile costs the request path (issue 10): one
agentd, POST /v1/agents/echo/invoke under wrk (one thread, 64 keep-alive
connections), measured with and without a /debug/pprof/profile running
for the whole load, in the same run, the order alternating from run to
run (on/off, off/on, ...). The profile request asks for seconds+1 and is
checked to come back 200 with a non-empty profile, so the profiler really
ran. Reports per mode the median and min..max over --runs of server CPU
per request (utime+stime from /proc/PID/stat) and req/s, and on/off of
the medians. Stops only what it started, by pid.

  bench/http_pprof.py [--runs 5] [--seconds 5] [--quick] [--json]
"""
import os, re, shutil, sys, tempfile, threading, time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_agentd import (BIN, Server, bench_args, cpu_ns, free_port, on_off,  # noqa: E402
                         post_lua, print_on_off, report_head, wrk)


class Profile(threading.Thread):
    """One GET /debug/pprof/profile?seconds=N; keeps the status and size."""

    def __init__(self, port, seconds):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/debug/pprof/profile?seconds={seconds}"
        self.status, self.size, self.seconds = 0, 0, seconds

    def run(self):
        with urllib.request.urlopen(self.url, timeout=self.seconds + 30) as r:
            self.status, self.size = r.status, len(r.read())


def main():
    a = bench_args(2)
    tmp = tempfile.mkdtemp(prefix="ac-pprof-bench-")
    lua = post_lua(tmp)
    res = {m: {"rps": [], "cpu_us_per_req": [], "p99_ms": []} for m in ("on", "off")}
    load0 = os.getloadavg()
    server = None
    try:
        p = free_port()
        out = os.path.join(tmp, "agentd.out")
        cmd = [f"{BIN}/agentd", "--port", str(p), "--admin-port", "0", "--quiet"]
        cmd += ["--cpus", a.cpus] if a.cpus else []
        server = Server("agentd", ["sh", "-c", 'exec "$0" "$@" > ' + out] + cmd, p)
        admin = int(re.search(r"admin on http://127\.0\.0\.1:(\d+)", open(out).read()).group(1))
        for run in range(a.runs):
            for mode in (("on", "off") if run % 2 == 0 else ("off", "on")):
                prof = Profile(admin, a.seconds + 1) if mode == "on" else None
                if prof:
                    prof.start()
                    time.sleep(0.2)  # let the admin shard start the profiler first
                c0 = cpu_ns(server.pids)
                reqs, rps, p99, errs = wrk(p, "/v1/agents/echo/invoke", 64, a.seconds, lua)
                cpu = (cpu_ns(server.pids) - c0) / reqs
                if prof:
                    prof.join()
                    assert prof.status == 200 and prof.size > 0, (prof.status, prof.size)
                r = res[mode]
                r["rps"].append(rps)
                r["cpu_us_per_req"].append(cpu / 1000)
                r["p99_ms"].append(p99)
                print(f"run {run} profile {mode}: {rps:.0f} req/s p99 {p99:.2f} ms "
                      f"cpu {cpu / 1000:.3f} us/req"
                      + (f" (profile {prof.size} B)" if prof else "") + (f" {errs}" if errs else ""),
                      file=sys.stderr)
    finally:
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = on_off(res)
    if report_head(a, load0, summary):
        print("== echo (64 conns)")
        print_on_off("profile", summary)


if __name__ == "__main__":
    main()
