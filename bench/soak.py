#!/usr/bin/env python3
"""Soak: a mixed load against agentd with connection churn (issue 14, item 6).

Starts build/bin/agentd on free 127.0.0.1 ports (stopped by pid at the end),
then for --duration seconds runs --workers client threads. Each opens a
connection, sends 1..20 keep-alive requests picked from the mix, closes it
(churn), and starts again:
  GET /healthz · POST echo · POST compute {"input":200} ·
  POST stream (SSE, 3 chunks 1 ms apart) · POST session-counter over a
  fixed pool of --sessions session ids (sessions stay bounded: the session
  cap is another item of the issue)
Every answer must be a complete 200 (Content-Length or chunked); anything
else — another status, a reset, a timeout — is an unexpected error.
(locks: not part of the mix until the Redis lock agent is on main.)

Once a second it samples agentd's RSS (/proc/PID/status VmRSS) and open fds
(/proc/PID/fd). Reports the least-squares slope of each over the steady
phase (the first 20 % is warm-up and left out) per minute.

Then a spike: --spike-workers threads post 256 KiB echo bodies for
--spike-seconds (a 503 with Retry-After is a defined answer there — the
memory budget or admission shedding — counted apart, not an error); afterwards the load stops and RSS must come back to within
20 % of its pre-spike level (the median of the last 5 samples before the
spike) within 60 s. Exit status 1 when errors > 0, the fds did not come
back to their steady level, or RSS did not come back.

  bench/soak.py [--duration 600] [--workers 8] [--json]
"""
import argparse, json, os, random, socket, statistics, subprocess, sys, threading, time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_agentd import free_port  # noqa: E402  (the bench scripts' helpers)
from net_idle import rss_kib as rss_kb  # noqa: E402


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_min(samples):
    """Least-squares slope of (t, v) pairs, per minute."""
    if len(samples) < 3:
        return 0.0
    ts = [t for t, _ in samples]
    vs = [v for _, v in samples]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return 0.0 if den == 0 else 60 * sum((t - mt) * (v - mv) for t, v in samples) / den


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed by the server")
        self.buf += d

    def read_line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_n(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self, raw):
        """Sends one request; returns (status, body) of a complete response."""
        self.s.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdr = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            hdr[k.strip().lower()] = v.strip()
        self.hdr = hdr
        if b"content-length" in hdr:
            return status, self.read_n(int(hdr[b"content-length"]))
        if hdr.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while True:
                size = int(self.read_line().split(b";")[0], 16)
                body += self.read_n(size)
                self.read_n(2)
                if size == 0:
                    return status, body
        raise ValueError("response without a length")

    def close(self):
        self.s.close()


def post(path, body, extra=""):
    b = body.encode()
    return (f"POST {path} HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(b)}\r\n\r\n").encode() + b


def mix(rng, sessions):
    k = rng.randrange(5)
    if k == 0:
        return b"GET /healthz HTTP/1.1\r\nHost: soak\r\n\r\n"
    if k == 1:
        return post("/v1/agents/echo/invoke", json.dumps({"input": {"n": rng.randrange(1 << 30)}}))
    if k == 2:
        return post("/v1/agents/compute/invoke", '{"input":200}')
    if k == 3:
        return post("/v1/agents/stream/invoke", '{"input":{"chunks":3,"interval_ms":1}}',
                    "Accept: text/event-stream\r\n")
    sid = f"soak-{rng.randrange(sessions)}"
    return post("/v1/agents/session-counter/invoke", json.dumps({"session_id": sid, "input": 1}))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = self.conns = self.errors = self.shed = 0
        self.first_errors = []

    def error(self, what):
        with self.lock:
            self.errors += 1
            if len(self.first_errors) < 5:
                self.first_errors.append(what)


def worker(port, end, seed, stats, sessions, raw_fn=None, allow_shed=False):
    rng = random.Random(seed)
    while time.monotonic() < end:
        try:
            c = Conn(port)
        except OSError as e:
            stats.error(f"connect: {e}")
            time.sleep(0.05)
            continue
        n = 0
        try:
            for _ in range(rng.randrange(1, 21)):
                if time.monotonic() >= end:
                    break
                raw = raw_fn(rng) if raw_fn else mix(rng, sessions)
                status, _ = c.request(raw)
                n += 1
                if status == 503 and allow_shed and b"retry-after" in c.hdr:
                    with stats.lock:
                        stats.shed += 1  # the memory budget or admission said no: defined
                elif status != 200:
                    stats.error(f"status {status} for {raw[:40]!r}")
        except (OSError, ValueError, ConnectionError) as e:
            stats.error(f"{type(e).__name__}: {e}")
        finally:
            c.close()
        with stats.lock:
            stats.requests += n
            stats.conns += 1


def run_load(port, seconds, workers, stats, sessions, raw_fn=None, allow_shed=False):
    end = time.monotonic() + seconds
    ts = [threading.Thread(target=worker,
                           args=(port, end, i * 7919 + 1, stats, sessions, raw_fn, allow_shed))
          for i in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--spike-workers", type=int, default=32)
    ap.add_argument("--spike-seconds", type=float, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin", "agentd"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    port, admin = free_port(), free_port()
    proc = subprocess.Popen([a.bin, "--port", str(port), "--admin-port", str(admin),
                             "--log-level", "warn"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(500):  # bounded: 10 s to come up
            try:
                c = Conn(port)
                st, _ = c.request(b"GET /readyz HTTP/1.1\r\nHost: soak\r\n\r\n")
                c.close()
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.02)
        else:
            sys.exit("agentd did not become ready")

        samples, stop = [], threading.Event()
        t0 = time.monotonic()

        def sample():
            while not stop.is_set():
                samples.append((time.monotonic() - t0, rss_kb(proc.pid), nfds(proc.pid)))
                stop.wait(1)

        sampler = threading.Thread(target=sample)
        sampler.start()
        stats = Stats()
        run_load(port, a.duration, a.workers, stats, a.sessions)
        steady_end = time.monotonic() - t0
        steady = [s for s in samples if s[0] >= 0.2 * a.duration]
        rss_slope = slope_per_min([(t, r) for t, r, _ in steady])
        fd_slope = slope_per_min([(t, f) for t, _, f in steady])
        pre = statistics.median(r for _, r, _ in samples[-5:])
        fds_steady = statistics.median(f for _, _, f in samples[-5:])

        big = "x" * (256 << 10)
        spike_stats = Stats()
        run_load(port, a.spike_seconds, a.spike_workers, spike_stats, a.sessions,
                 lambda rng: post("/v1/agents/echo/invoke", json.dumps({"input": big})), True)
        peak = max(r for t, r, _ in samples if t >= steady_end) if samples[-1][0] >= steady_end else rss_kb(proc.pid)
        peak = max(peak, rss_kb(proc.pid))
        spike_end = time.monotonic()
        back_after = None
        while time.monotonic() - spike_end < 60:
            if rss_kb(proc.pid) <= 1.2 * pre:
                back_after = time.monotonic() - spike_end
                break
            time.sleep(0.5)
        rss_after = rss_kb(proc.pid)
        fds_after = nfds(proc.pid)
        stop.set()
        sampler.join()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    res = {
        "duration_s": a.duration, "workers": a.workers, "requests": stats.requests,
        "connections": stats.conns, "errors": stats.errors, "first_errors": stats.first_errors,
        "rss_kb_start": samples[0][1], "rss_kb_steady_end": pre,
        "rss_slope_kb_per_min": round(rss_slope, 1), "fds_slope_per_min": round(fd_slope, 3),
        "fds_steady": fds_steady, "fds_after": fds_after,
        "spike_requests": spike_stats.requests, "spike_shed_503": spike_stats.shed,
        "spike_errors": spike_stats.errors,
        "spike_first_errors": spike_stats.first_errors, "rss_kb_peak": peak,
        "rss_kb_after": rss_after, "rss_back_within_20pct_after_s":
            None if back_after is None else round(back_after, 1),
        "load": os.getloadavg()[0],
    }
    ok = (stats.errors == 0 and spike_stats.errors == 0 and back_after is not None
          and fds_after <= fds_steady)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:32} {v}")
        print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
