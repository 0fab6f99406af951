#!/usr/bin/env python3
"""Cluster benchmarks for issue 16 (agentd nodes on 127.0.0.1, wrk client).

1. Proxy overhead. Two agentd nodes with a static member list (no Redis),
   one shard each (--cpus 0 and --cpus 1). POST session-counter for one
   session owned by node B: "local" sends to B, "forwarded" sends to A,
   which proxies to B over its keep-alive pool. wrk -t1 -c4, --latency.
   Reported: p50/p99 of each, the added latency (forwarded - local), and
   both nodes' CPU time per request.
2. Session store cost. One node, session-counter over 1000 sessions
   (a wrk Lua script cycles the ids): --cluster-session-store redis (a
   redis-server started here) against no cluster (memory). Reported:
   req/s, p50/p99, agentd CPU per request, redis CPU per request.

Scenarios alternate A/B within each run; medians and min..max over --runs.
Asserts every answer was a 2xx (wrk's non-2xx count is 0). Stops only the
processes it started, by pid.

  bench/cluster_proxy.py [--runs 5] [--seconds 3] [--quick] [--json]
"""
import argparse, json, os, re, socket, statistics, subprocess, sys, tempfile, time
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
AGENTD = os.path.join(ROOT, "build", "bin", "agentd")
TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ns(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) * 1e9 / TCK


def wait_http(url, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            return urllib.request.urlopen(url, timeout=1).read().decode()
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"no answer from {url}")


def start_agentd(port, cpus, extra):
    p = subprocess.Popen([AGENTD, "--port", str(port), "--cpus", cpus, "--quiet"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/readyz")
    return p


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(port, script, seconds, conns):
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}/v1/agents/session-counter/invoke"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    lat = {}
    for pct, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(v) * UNIT[u]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert not bad, f"non-2xx answers: {bad.group(1)}\n{out}"
    assert reqs > 0 and "50" in lat and "99" in lat, out
    return {"rps": rps, "p50_ms": lat["50"], "p99_ms": lat["99"], "requests": reqs}


def lua(tmp, body_fmt, nsess):
    path = os.path.join(tmp, f"s{nsess}.lua")
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                "local i = 0\nrequest = function()\n  i = i + 1\n"
                f'  local body = string.format(\'{body_fmt}\', i % {nsess})\n'
                "  return wrk.format(nil, nil, nil, body)\nend\n")
    return path


def med(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def proxy_bench(args, tmp):
    pa, pb = free_port(), free_port()
    members = f"127.0.0.1:{pa},127.0.0.1:{pb}"
    a = start_agentd(pa, "0", ["--cluster-members", members])
    b = start_agentd(pb, "1", ["--cluster-members", members])
    try:
        # a session id that node B owns (the script sends "<sid>-0")
        sid = next(f"bench-{i}" for i in range(1000) if f'"owner":"127.0.0.1:{pb}"' in wait_http(
            f"http://127.0.0.1:{pa}/v1/cluster?session_id=bench-{i}-0"))
        script = lua(tmp, '{"session_id":"' + sid + '-%d","input":null}', 1)
        res = {"local": [], "forwarded": []}
        for r in range(args.runs):
            order = ["local", "forwarded"] if r % 2 == 0 else ["forwarded", "local"]
            for name in order:
                c0 = cpu_ns(a.pid) + cpu_ns(b.pid)
                w = wrk(pb if name == "local" else pa, script, args.seconds, 4)
                w["nodes_us_per_req"] = (cpu_ns(a.pid) + cpu_ns(b.pid) - c0) / w["requests"] / 1e3
                res[name].append(w)
        # the ids actually sent are "<sid>-0": check the owner of that one
        assert f'"owner":"127.0.0.1:{pb}"' in wait_http(
            f"http://127.0.0.1:{pa}/v1/cluster?session_id={sid}-0"), "owner moved"
    finally:
        stop(a)
        stop(b)
    out = {}
    for name, runs in res.items():
        out[name] = {k: med([x[k] for x in runs])
                     for k in ("rps", "p50_ms", "p99_ms", "nodes_us_per_req")}
    out["added_p50_ms"] = [f["p50_ms"] - l["p50_ms"] for f, l in zip(res["forwarded"], res["local"])]
    out["added_p99_ms"] = [f["p99_ms"] - l["p99_ms"] for f, l in zip(res["forwarded"], res["local"])]
    out["added_p50_ms"] = med(out["added_p50_ms"])
    out["added_p99_ms"] = med(out["added_p99_ms"])
    return out


def store_bench(args, tmp):
    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--appendonly",
                              "no", "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    script = lua(tmp, '{"session_id":"st-%d","input":null}', 1000)
    res = {"memory": [], "redis": []}
    try:
        for r in range(args.runs):
            order = ["memory", "redis"] if r % 2 == 0 else ["redis", "memory"]
            for name in order:
                port = free_port()
                extra = [] if name == "memory" else [
                    "--cluster-redis", f"127.0.0.1:{rport}", "--cluster-session-store", "redis"]
                p = start_agentd(port, "0", extra)
                try:
                    c0, r0 = cpu_ns(p.pid), cpu_ns(redis.pid)
                    w = wrk(port, script, args.seconds, 16)
                    w["agentd_us_per_req"] = (cpu_ns(p.pid) - c0) / w["requests"] / 1e3
                    w["redis_us_per_req"] = (cpu_ns(redis.pid) - r0) / w["requests"] / 1e3
                finally:
                    stop(p)
                res[name].append(w)
    finally:
        stop(redis)
    return {name: {k: med([x[k] for x in runs]) for k in
                   ("rps", "p50_ms", "p99_ms", "agentd_us_per_req", "redis_us_per_req")}
            for name, runs in res.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="one short run (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.seconds = 1, 1
    with tempfile.TemporaryDirectory() as tmp:
        out = {"load_before": os.getloadavg(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                      time.gmtime()),
               "proxy": proxy_bench(args, tmp), "store": store_bench(args, tmp),
               "load_after": os.getloadavg()}
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"date {out['date']}  load before {out['load_before']}  after {out['load_after']}")
    for section in ("proxy", "store"):
        for name, v in out[section].items():
            if isinstance(v, dict) and "median" in v:
                print(f"{section:6} {name:18} {v['median']:.3f} ms [{v['min']:.3f}..{v['max']:.3f}]")
                continue
            print(f"{section:6} {name:18} " + "  ".join(
                f"{k} {x['median']:.3f} [{x['min']:.3f}..{x['max']:.3f}]" for k, x in v.items()))


if __name__ == "__main__":
    sys.exit(main())
