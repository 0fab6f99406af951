#!/usr/bin/env python3
"""Idle-connection memory of ac-echo (issue 5): RSS growth per connection.

Starts ac-echo on CPU 1, reads VmRSS, opens N connections (default 10,000),
pings each once (so the server has accepted it and armed its receive),
reads VmRSS again and reports (after - before) / N. Raises RLIMIT_NOFILE
to the hard limit. Stops only the pid it started.

  bench/net_idle.py [--conns N] [--json]
"""
import argparse, json, os, resource, signal, socket, subprocess, time

BIN = os.path.join(os.path.dirname(__file__), "..", "build", "bin")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = 17900
    p = subprocess.Popen([f"{BIN}/ac-echo", "--port", str(port), "--cpus", "1"],
                         stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        warm = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
        for s in warm:
            s.sendall(b"w")
            s.recv(1)
        before = rss_kib(p.pid)
        socks = []
        for i in range(a.conns):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"p")
            assert s.recv(1) == b"p"
            socks.append(s)
        time.sleep(0.5)
        after = rss_kib(p.pid)
        per = (after - before) * 1024 / a.conns
        res = {"bench": "net_idle", "conns": a.conns, "rss_before_kib": before,
               "rss_after_kib": after, "bytes_per_conn": per}
        print(json.dumps(res) if a.json else
              f"{a.conns} idle connections: RSS {before} KiB -> {after} KiB = "
              f"{per:.0f} B per connection")
        for s in socks + warm:
            s.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)


if __name__ == "__main__":
    main()
