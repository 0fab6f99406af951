#!/usr/bin/env python3
"""HTTP benchmark for issue 6: agentd vs nginx vs Go net/http.

Servers, all on 127.0.0.1 in the same run on the same CPUs (the machine's):
  agentd   build/bin/agentd, one shard per CPU (--cpus, default all)
  nginx    one worker per CPU, `return 200` with a fixed body
           (bench/baselines/nginx.conf), own prefix and pid file in a temp dir
  go       bench/baselines/go-echo/main.go built here with the installed go,
           GOMAXPROCS=1 (the original design's platform)
Client: wrk, one thread, keep-alive, --latency. Scenarios: GET /healthz and
POST /v1/agents/echo/invoke ({"input":"hello"}) at 64 and 256 connections.
Per run and server: requests/s and p99 from wrk, server CPU time per
request from /proc/PID/stat utime+stime over the run (every server process
summed: nginx master and workers), and the time their threads waited
runnable for a CPU (/proc/PID/task/*/schedstat, ms per second of run: the
host keeping a shard off its CPU shows here). Servers are measured in turn within
each run; reports the median and min..max over --runs runs, and ratios
against nginx and go from the medians. Asserts every answer was a 2xx.
Stops only the processes it started, by pid.

With --baseline DIR, DIR/build/bin/agentd (another build of the tree,
e.g. main's before a change) is served too, as "agentd-base", measured in
the same alternation. --epoll adds agentd on the epoll backend (--backend
epoll), "agentd-epoll". --conns picks the connection counts (default 64
and 256), --scenarios the paths. The summary also gives agentd's echo /
healthz CPU ratio.

  bench/http_agentd.py [--runs 5] [--seconds 5] [--quick] [--json]
                       [--baseline DIR] [--epoll] [--scenarios healthz,echo]
                       [--conns 64,256]
"""
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys
import tempfile, time, urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.path.join(ROOT, "build", "bin")
TCK = os.sysconf("SC_CLK_TCK")
BODY = '{"input":"hello"}'


def cpu_ns(pids, user_only=False):
    """utime+stime (or utime alone) of the processes, in ns."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            total += int(parts[11]) + (0 if user_only else int(parts[12]))
        except FileNotFoundError:
            pass
    return total * 1e9 / TCK


def wait_ns(pids):
    """Time the processes' threads spent runnable but not running (schedstat's
    second field): how long the host kept them off a CPU."""
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_up(port, proc, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on {port} did not come up")


class Server:
    def __init__(self, name, cmd, port, env=None):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env)
        wait_up(port, self.proc)
        self.pids = [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def agentd_cmd(binary, port, cpus="", extra=()):
    """agentd on `port`, quiet; no admin listener where the build has one
    (a --baseline build may predate it)."""
    h = subprocess.run([binary, "--help"], capture_output=True, text=True)
    help_text = h.stdout + h.stderr
    cmd = [binary, "--port", str(port), "--quiet"] + list(extra)
    if "--admin-port" in help_text:
        cmd += ["--admin-port", "0"]
    return cmd + (["--cpus", cpus] if cpus else [])


def start_servers(tmp, cpus, baseline=None, epoll=False):
    servers = []
    agentds = [("agentd", f"{BIN}/agentd", ())]
    if epoll:
        agentds.append(("agentd-epoll", f"{BIN}/agentd", ("--backend", "epoll")))
    if baseline:
        agentds.append(("agentd-base", os.path.join(baseline, "build", "bin", "agentd"), ()))
    for name, binary, extra in agentds:
        p = free_port()
        servers.append(Server(name, agentd_cmd(binary, p, cpus, extra), p))
    p = free_port()
    ncpu = len(os.sched_getaffinity(0))
    conf = open(os.path.join(ROOT, "bench", "baselines", "nginx.conf")).read()
    conf = conf.replace("@PORT@", str(p)).replace("@PREFIX@", tmp).replace("@WORKERS@", str(ncpu))
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(conf)
    servers.append(Server("nginx", ["nginx", "-p", tmp, "-c", os.path.join(tmp, "nginx.conf"),
                                    "-g", "daemon off;"], p))
    gobin = os.path.join(tmp, "go-echo")
    env = dict(os.environ, GOCACHE=os.path.join(tmp, "gocache"), GO111MODULE="off",
               GOPATH=os.path.join(tmp, "gopath"))
    subprocess.run(["go", "build", "-o", gobin,
                    os.path.join(ROOT, "bench", "baselines", "go-echo", "main.go")],
                   check=True, env=env)
    p = free_port()
    servers.append(Server("go", [gobin, str(p)], p, env=dict(os.environ, GOMAXPROCS="1")))
    return servers


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000}[m.group(2)]


def wrk(port, path, conns, seconds, lua):
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if lua:
        cmd += ["-s", lua]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, timeout=seconds + 30).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    assert reqs > 0 and not bad, f"{port}{path}: {reqs} requests, non-2xx: {bad and bad.group(1)}"
    return reqs, rps, p99, errs.group(1) if errs else ""


def post_lua(tmp):
    """A wrk script that POSTs BODY as JSON; returns its path (in tmp)."""
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = \'%s\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n' % BODY)
    return lua


def check_answers(servers):
    for s in servers:
        req = urllib.request.Request(f"http://127.0.0.1:{s.port}/v1/agents/echo/invoke",
                                     data=BODY.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            body = json.loads(r.read())
            assert r.status == 200 and body["agent"] == "echo", (s.name, body)


def bench_args(quick_runs):
    """The options every HTTP benchmark takes (--quick: quick_runs runs of 2 s)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--cpus", default="", help="agentd --cpus (default: all)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--baseline", help="another build tree's root (its build/bin/agentd)")
    ap.add_argument("--epoll", action="store_true")
    ap.add_argument("--scenarios", default="healthz,echo")
    ap.add_argument("--conns", default="64,256")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.seconds = quick_runs, 2
    return a


def on_off(by):
    """{"on": samples, "off": samples} (lists per measure) -> median, min, max
    per mode and measure, and the on/off ratios of the CPU and req/s medians."""
    s = {m: {k: {"median": statistics.median(v), "min": min(v), "max": max(v)}
             for k, v in r.items()} for m, r in by.items()}
    s["on_vs_off"] = {"cpu": s["on"]["cpu_us_per_req"]["median"] / s["off"]["cpu_us_per_req"]["median"],
                      "rps": s["on"]["rps"]["median"] / s["off"]["rps"]["median"]}
    return s


def report_head(a, load0, results):
    """With --json prints the results with the run's facts and returns False;
    otherwise prints the load average line and returns True (text follows)."""
    meta = {"runs": a.runs, "seconds": a.seconds, "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "loadavg_before": load0, "loadavg_after": os.getloadavg()}
    if a.json:
        print(json.dumps({"meta": meta, "results": results}, indent=1))
        return False
    print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {meta['loadavg_after'][0]:.2f}")
    return True


def print_on_off(what, s):
    """Prints an on_off() summary, one line per mode and the ratios."""
    for mode in ("on", "off"):
        m = s[mode]
        print(f"  {what} {mode:3s} " + "  ".join(
            f"{k} {m[k]['median']:.3f} [{m[k]['min']:.3f}..{m[k]['max']:.3f}]"
            for k in ("cpu_us_per_req", "rps", "p99_ms")))
    print(f"  on/off  cpu {s['on_vs_off']['cpu']:.3f}  rps {s['on_vs_off']['rps']:.3f}")


def main():
    a = bench_args(1)
    tmp = tempfile.mkdtemp(prefix="ac-http-bench-")
    lua = post_lua(tmp)
    scenarios = [s for s in (("healthz", "/healthz", None), ("echo", "/v1/agents/echo/invoke", lua))
                 if s[0] in a.scenarios.split(",")]
    servers = start_servers(tmp, a.cpus, a.baseline, a.epoll)
    conn_counts = [int(c) for c in a.conns.split(",")]
    res = {}
    try:
        check_answers(servers)
        for run in range(a.runs):
            for sname, path, script in scenarios:
                for conns in conn_counts:
                    for s in servers:
                        c0, u0, w0 = cpu_ns(s.pids), cpu_ns(s.pids, True), wait_ns(s.pids)
                        reqs, rps, p99, errs = wrk(s.port, path, conns, a.seconds, script)
                        waited = (wait_ns(s.pids) - w0) / 1e6 / a.seconds
                        cpu = (cpu_ns(s.pids) - c0) / reqs
                        user = (cpu_ns(s.pids, True) - u0) / reqs
                        r = res.setdefault(f"{sname}/c{conns}", {}).setdefault(
                            s.name, {"rps": [], "p99_ms": [], "cpu_us_per_req": [],
                                     "user_us_per_req": [], "runq_wait_ms_per_s": [],
                                     "socket_errors": []})
                        r["rps"].append(rps)
                        r["p99_ms"].append(p99)
                        r["cpu_us_per_req"].append(cpu / 1000)
                        r["user_us_per_req"].append(user / 1000)
                        r["runq_wait_ms_per_s"].append(waited)
                        if errs:
                            r["socket_errors"].append(errs)
                        print(f"run {run} {sname} c{conns} {s.name}: {rps:.0f} req/s "
                              f"p99 {p99:.2f} ms cpu {cpu / 1000:.2f} us/req "
                              f"runq wait {waited:.0f} ms/s {errs}",
                              file=sys.stderr)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {}
    for scen, by in res.items():
        summary[scen] = {}
        for name, r in by.items():
            summary[scen][name] = {k: {"median": statistics.median(v), "min": min(v),
                                       "max": max(v)}
                                   for k, v in r.items() if k != "socket_errors"}
        ag, ng, go = (summary[scen][n] for n in ("agentd", "nginx", "go"))
        summary[scen]["ratios"] = {
            "cpu_vs_nginx": ag["cpu_us_per_req"]["median"] / ng["cpu_us_per_req"]["median"],
            "cpu_vs_go": ag["cpu_us_per_req"]["median"] / go["cpu_us_per_req"]["median"],
            "rps_vs_nginx": ag["rps"]["median"] / ng["rps"]["median"],
            "p99_vs_nginx": ag["p99_ms"]["median"] / ng["p99_ms"]["median"],
        }
        if "agentd-base" in summary[scen]:
            base = summary[scen]["agentd-base"]
            summary[scen]["ratios"]["cpu_vs_base"] = (ag["cpu_us_per_req"]["median"] /
                                                      base["cpu_us_per_req"]["median"])
        if "agentd-epoll" in summary[scen]:
            ep = summary[scen]["agentd-epoll"]
            summary[scen]["ratios"]["epoll_cpu_vs_uring"] = (
                ep["cpu_us_per_req"]["median"] / ag["cpu_us_per_req"]["median"])
            summary[scen]["ratios"]["epoll_rps_vs_uring"] = (
                ep["rps"]["median"] / ag["rps"]["median"])
    for scen in list(summary):
        if scen.startswith("echo/"):
            hz = summary.get("healthz/" + scen.split("/", 1)[1])
            for name in ("agentd", "agentd-base"):
                if hz and name in hz:
                    summary[scen]["ratios"][f"{name}_echo_vs_healthz_cpu"] = (
                        summary[scen][name]["cpu_us_per_req"]["median"] /
                        hz[name]["cpu_us_per_req"]["median"])
    meta = {"runs": a.runs, "seconds": a.seconds, "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": os.getloadavg()}
    if a.json:
        print(json.dumps({"meta": meta, "results": summary}, indent=1))
        return
    print(f"# {meta['date']}, load {meta['load'][0]:.2f}, {a.runs} runs x {a.seconds} s")
    for scen, by in summary.items():
        print(f"== {scen}")
        for name in [n for n in ("agentd", "agentd-epoll", "agentd-base", "nginx", "go") if n in by]:
            m = by[name]
            print(f"  {name:12s} " + "  ".join(
                f"{k} {m[k]['median']:.2f} [{m[k]['min']:.2f}..{m[k]['max']:.2f}]"
                for k in ("rps", "p99_ms", "cpu_us_per_req", "user_us_per_req",
                          "runq_wait_ms_per_s")))
        print("  ratios " + "  ".join(f"{k} {v:.2f}" for k, v in by["ratios"].items()))


if __name__ == "__main__":
    main()
