#!/usr/bin/env python3
"""Echo benchmark for issue 5: ac-echo vs epoll-echo vs uring-echo.

Drives build/bin servers and ac-loadgen as processes (server on CPU 1,
client on CPU 0), 64 B messages, 1/16/128/1024 connections, ping-pong
(depth 1) and pipelined (depth 8). Per run: msgs/s and p50/p99 from
ac-loadgen --json, server CPU ns/msg from /proc/PID/stat utime+stime over
the run. Reports the median and min..max of --runs runs; ratios against
epoll-echo and uring-echo of the same run. Stops only the pids it started.

  bench/net_echo.py [--runs N] [--seconds S] [--quick] [--json] [--epoll]
                    [--conns 1,16,128,1024] [--depths 1,8] [--extra LABEL=PATH ...]

--epoll adds ac-echo on the epoll backend (AC_BACKEND=epoll) as a row of
its own, "ac-echo@epoll", beside ac-echo on io_uring and the baselines.

--extra adds another ac-echo-compatible binary (e.g. a build of an earlier
commit, LABEL=PATH) to the same interleaved runs, for before/after numbers
measured side by side; its row gets ratios against the same baselines.
"""
import argparse, json, os, signal, socket, statistics, subprocess, sys, time

BIN = os.path.join(os.path.dirname(__file__), "..", "build", "bin")
TCK = os.sysconf("SC_CLK_TCK")


def cpu_ns(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) * 1e9 / TCK


EXTRA = {}


def start(name, port):
    env = None
    if name == "ac-echo@epoll":
        env = dict(os.environ, AC_BACKEND="epoll")
        name = "ac-echo"
    if name == "ac-echo" or name in EXTRA:
        path = EXTRA.get(name, f"{BIN}/ac-echo")
        cmd = [path, "--port", str(port), "--cpus", "1", "--stats"]
    else:
        cmd = [f"{BIN}/{name}", str(port), "1"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=env)
    for _ in range(100):  # until it listens (at most 5 s)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    return out


def loadgen(port, conns, depth, secs):
    out = subprocess.run([f"{BIN}/ac-loadgen", "--port", str(port), "--cpus", "0", "--conns",
                          str(conns), "--depth", str(depth), "--size", "64", "--duration",
                          str(secs), "--json"], capture_output=True, text=True, timeout=secs + 60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--conns", default="1,16,128,1024")
    ap.add_argument("--depths", default="1,8")
    ap.add_argument("--extra", action="append", default=[])
    ap.add_argument("--epoll", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.seconds = 1, 0.3
    for e in a.extra:
        label, path = e.split("=", 1)
        EXTRA[label] = path
    acs = ["ac-echo"] + (["ac-echo@epoll"] if a.epoll else []) + list(EXTRA)
    servers = acs + ["epoll-echo", "uring-echo"]
    conns_list = [int(c) for c in a.conns.split(",")]
    depths = [int(d) for d in a.depths.split(",")]
    results = {}
    port = 17100
    for depth in depths:
        for conns in conns_list:
            for rnd in range(a.runs):
                for name in servers:  # interleaved so drift hits all alike
                    for attempt in range(3):
                        # A loaded machine can keep the client connecting past
                        # the window (0 messages): start that run again.
                        port += 1
                        p = start(name, port)
                        c0 = cpu_ns(p.pid)
                        r = loadgen(port, conns, depth, a.seconds)
                        c1 = cpu_ns(p.pid)
                        stop(p)
                        if r["msgs"] > 0:
                            break
                        print(f"{name} {conns}x{depth}: no messages, run again", file=sys.stderr)
                    assert r["msgs"] > 0 and r["errors"] == 0, (name, r)
                    key = (name, conns, depth)
                    results.setdefault(key, []).append(
                        (r["msgs_per_s"], r["p50_us"], r["p99_us"], (c1 - c0) / r["msgs"]))
    rows = []
    for depth in depths:
        for conns in conns_list:
            med = {}
            for name in servers:
                v = results[(name, conns, depth)]
                col = list(zip(*v))
                med[name] = [statistics.median(c) for c in col]
                rows.append({"server": name, "conns": conns, "depth": depth,
                             "msgs_per_s": med[name][0], "msgs_per_s_min": min(col[0]),
                             "msgs_per_s_max": max(col[0]), "p50_us": med[name][1],
                             "p99_us": med[name][2], "cpu_ns_per_msg": med[name][3],
                             "cpu_ns_min": min(col[3]), "cpu_ns_max": max(col[3]),
                             "runs": len(v)})
            for i, name in enumerate(acs):
                row = rows[-len(servers) + i]
                row["cpu_vs_epoll"] = med[name][3] / med["epoll-echo"][3]
                row["cpu_vs_uring"] = med[name][3] / med["uring-echo"][3]
                row["rate_vs_epoll"] = med[name][0] / med["epoll-echo"][0]
    if a.json:
        print(json.dumps({"bench": "net_echo", "runs": a.runs, "seconds": a.seconds,
                          "rows": rows}))
        return
    print(f"{'server':14} {'conns':>5} {'depth':>5} {'msgs/s (min..max)':>28} {'p50us':>7} "
          f"{'p99us':>8} {'cpu ns/msg (min..max)':>24}  ratios")
    for r in rows:
        extra = ""
        if "cpu_vs_epoll" in r:
            extra = (f"cpu {r['cpu_vs_epoll']:.2f}x epoll, {r['cpu_vs_uring']:.2f}x uring; "
                     f"rate {r['rate_vs_epoll']:.2f}x epoll")
        print(f"{r['server']:14} {r['conns']:5} {r['depth']:5} {r['msgs_per_s']:10.0f} "
              f"({r['msgs_per_s_min']:.0f}..{r['msgs_per_s_max']:.0f}) {r['p50_us']:7.1f} "
              f"{r['p99_us']:8.1f} {r['cpu_ns_per_msg']:8.0f} ({r['cpu_ns_min']:.0f}.."
              f"{r['cpu_ns_max']:.0f})  {extra}")


if __name__ == "__main__":
    main()
