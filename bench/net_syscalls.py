#!/usr/bin/env python3
"""System calls per message for issue 5: epoll-echo, uring-echo and ac-echo.

Starts each server (CPU 1), attaches `strace -c -f` to it once it listens
(so start-up calls are not counted), drives it with ac-loadgen (CPU 0,
64 B, 128 connections, ping-pong and 8-deep pipelined) for a bounded time,
detaches strace (SIGINT) and divides the total syscall count by the
messages the client completed under tracing. strace slows the traced
server, so rates here are not the benchmark's; only the per-message call
counts matter. Stops only the pids it started.

  bench/net_syscalls.py [--seconds S] [--conns N] [--json]
"""
import argparse, json, os, re, signal, subprocess, tempfile, time

BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin")


def server_cmd(name, port):
    if name == "ac-echo":
        return [f"{BIN}/ac-echo", "--port", str(port), "--cpus", "1"]
    return [f"{BIN}/{name}", str(port), "1"]


def parse_strace(path):
    """Returns ({syscall: calls}, total calls) from a strace -c summary."""
    calls = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                calls[m.group(2)] = calls.get(m.group(2), 0) + int(m.group(1))
    return calls, sum(calls.values())


def measure(name, port, conns, depth, secs):
    srv = subprocess.Popen(server_cmd(name, port), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    out = tempfile.NamedTemporaryFile(prefix="net_syscalls.", suffix=".txt", delete=False)
    out.close()
    try:
        time.sleep(0.3)
        st = subprocess.Popen(["strace", "-c", "-f", "-o", out.name, "-p", str(srv.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached to every thread
        r = subprocess.run([f"{BIN}/ac-loadgen", "--port", str(port), "--cpus", "0", "--conns",
                            str(conns), "--depth", str(depth), "--size", "64", "--duration",
                            str(secs), "--json"], capture_output=True, text=True,
                           timeout=secs + 60)
        st.send_signal(signal.SIGINT)
        st.wait(timeout=20)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        calls, total = parse_strace(out.name)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=20)
        os.unlink(out.name)
    assert res["msgs"] > 0 and res["errors"] == 0, (name, res)
    return {"server": name, "conns": conns, "depth": depth, "msgs": res["msgs"],
            "syscalls": total, "per_msg": total / res["msgs"],
            "top": sorted(calls.items(), key=lambda kv: -kv[1])[:4]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--conns", type=int, default=128)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows, port = [], 17600
    for depth in (1, 8):
        for name in ("epoll-echo", "uring-echo", "ac-echo"):
            port += 1
            rows.append(measure(name, port, a.conns, depth, a.seconds))
    if a.json:
        print(json.dumps({"bench": "net_syscalls", "seconds": a.seconds, "rows": rows}))
        return
    print(f"{'server':11} {'conns':>5} {'depth':>5} {'msgs':>9} {'syscalls':>9} {'per msg':>8}  top")
    for r in rows:
        top = ", ".join(f"{k} {v}" for k, v in r["top"])
        print(f"{r['server']:11} {r['conns']:5} {r['depth']:5} {r['msgs']:9} {r['syscalls']:9} "
              f"{r['per_msg']:8.4f}  {top}")


if __name__ == "__main__":
    main()
