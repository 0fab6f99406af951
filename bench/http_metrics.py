#!/usr/bin/env python3
"""What metrics cost the request path (issue 10): agentd with metrics on
against the same build with --no-metrics, in the same run.

Both servers run side by side (one shard per CPU each, admin on a
kernel-chosen port); they are measured in turn, the order alternating
from run to run (on/off, off/on, ...). The metrics-on server is scraped
(GET /metrics on its admin port) once a second while it is loaded, as a
Prometheus with a 1 s interval would (15x the usual rate), so the scrape's
own CPU is counted too. Client: wrk, one thread, 64 keep-alive
connections, GET /healthz and POST /v1/agents/echo/invoke. Reports per
scenario the median and min..max over --runs of server CPU per request
(utime+stime from /proc/PID/stat) and req/s, and on/off of the medians
(aim: CPU ratio <= 1.03). Stops only what it started, by pid.

  bench/http_metrics.py [--runs 5] [--seconds 5] [--quick] [--json]
"""
import os, re, shutil, sys, tempfile, threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_agentd import (BIN, Server, bench_args, cpu_ns, free_port, on_off,  # noqa: E402
                         post_lua, print_on_off, report_head, wrk)


def admin_port(proc_out):
    m = re.search(r"admin on http://127\.0\.0\.1:(\d+)", proc_out)
    return int(m.group(1)) if m else 0


def start(mode, tmp, cpus):
    p = free_port()
    out = os.path.join(tmp, f"{mode}.out")
    cmd = [f"{BIN}/agentd", "--port", str(p), "--admin-port", "0", "--quiet"]
    cmd += ["--no-metrics"] if mode == "off" else []
    cmd += ["--cpus", cpus] if cpus else []
    # stdout to a file: the admin port is on the first line
    s = Server(mode, ["sh", "-c", 'exec "$0" "$@" > ' + out] + cmd, p)
    s.admin = admin_port(open(out).read())
    return s


class Scraper(threading.Thread):
    """GET /metrics once a second until stopped; counts the scrapes."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop_ev, self.n, self.bytes = port, threading.Event(), 0, 0

    def run(self):
        while not self.stop_ev.wait(1.0):
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                assert r.status == 200
                self.bytes += len(r.read())
                self.n += 1


def main():
    a = bench_args(2)
    tmp = tempfile.mkdtemp(prefix="ac-metrics-bench-")
    lua = post_lua(tmp)
    scenarios = [("healthz", "/healthz", None), ("echo", "/v1/agents/echo/invoke", lua)]
    servers = {}
    res = {}
    load0 = os.getloadavg()
    try:
        servers = {m: start(m, tmp, a.cpus) for m in ("on", "off")}
        assert servers["on"].admin and servers["off"].admin, "no admin port printed"
        for run in range(a.runs):
            order = ("on", "off") if run % 2 == 0 else ("off", "on")
            for sname, path, script in scenarios:
                for mode in order:
                    s = servers[mode]
                    scr = Scraper(s.admin) if mode == "on" else None
                    if scr:
                        scr.start()
                    c0 = cpu_ns(s.pids)
                    reqs, rps, p99, errs = wrk(s.port, path, 64, a.seconds, script)
                    cpu = (cpu_ns(s.pids) - c0) / reqs
                    if scr:
                        scr.stop_ev.set()
                        scr.join()
                        assert scr.n >= max(1, a.seconds // 2), f"only {scr.n} scrapes"
                    r = res.setdefault(sname, {}).setdefault(mode, {"rps": [], "cpu_us_per_req": [],
                                                                    "p99_ms": []})
                    r["rps"].append(rps)
                    r["cpu_us_per_req"].append(cpu / 1000)
                    r["p99_ms"].append(p99)
                    print(f"run {run} {sname} metrics {mode}: {rps:.0f} req/s p99 {p99:.2f} ms "
                          f"cpu {cpu / 1000:.3f} us/req"
                          + (f" ({scr.n} scrapes, {scr.bytes // max(scr.n, 1)} B each)" if scr
                             else "") + (f" {errs}" if errs else ""), file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {scen: on_off(by) for scen, by in res.items()}
    if report_head(a, load0, summary):
        for scen, by in summary.items():
            print(f"== {scen} (64 conns)")
            print_on_off("metrics", by)


if __name__ == "__main__":
    main()
