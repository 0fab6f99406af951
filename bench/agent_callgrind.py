#!/usr/bin/env python3
"""User-space instructions and allocations per request of agentd (issue 12).

Runs build/bin/agentd (and, with --baseline DIR, DIR/bin/agentd: another
build of the tree, e.g. main's) under valgrind's callgrind on one shard,
warms it up, zeroes the counters (callgrind_control -z), sends exactly
--requests keep-alive requests per scenario from one client connection,
dumps (callgrind_control -d) and reads the dump: instructions (Ir) per
request and calls per request of every allocation function (libc's
malloc/calloc/realloc/aligned_alloc/posix_memalign/strdup and the shard
heap's ac_alloc/ac_calloc/ac_realloc).
Callgrind counts instructions, not time, so the numbers repeat on a busy
machine (unlike wall-clock runs): use them for before/after claims about
user-space work. The kernel's share (system calls, TCP) is not in them.

Scenarios: GET /healthz, POST echo {"input":"hello"}, POST echo with a
nested input, POST session-counter (the tree-based handler path).

  bench/agent_callgrind.py [--baseline DIR] [--requests 2000] [--json]
Stops only the processes it started, by pid.
"""
import argparse, json, os, re, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_agentd import ROOT, agentd_cmd, free_port  # noqa: E402

ALLOC_LIBC = ("malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign", "strdup")
ALLOC_HEAP = ("ac_alloc", "ac_calloc", "ac_realloc")
NESTED = '{"input":{"messages":[{"role":"user","content":"hello there"},' \
         '{"role":"assistant","content":"hi"}],"n":3,"ok":true},"session_id":"s-42"}'
SCENARIOS = [
    ("healthz", "GET", "/healthz", None),
    ("echo", "POST", "/v1/agents/echo/invoke", '{"input":"hello"}'),
    ("echo_nested", "POST", "/v1/agents/echo/invoke", NESTED),
    ("session_counter", "POST", "/v1/agents/session-counter/invoke",
     '{"input":null,"session_id":"s-42"}'),
]


class Client:
    """One keep-alive connection; reads each response by Content-Length."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def request(self, method, path, body):
        b = body.encode() if body else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: b\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n"
        self.s.sendall(head.encode() + b"\r\n" + b)
        while b"\r\n\r\n" not in self.buf:
            self.more()
        h, rest = self.buf.split(b"\r\n\r\n", 1)
        n = int(re.search(rb"Content-Length: (\d+)", h).group(1))
        while len(rest) < n:
            self.more()
            h, rest = self.buf.split(b"\r\n\r\n", 1)
        self.buf = rest[n:]
        status = int(h.split()[1])
        assert status == 200, (path, h, rest[:n])
        return rest[:n]

    def more(self):
        d = self.s.recv(65536)
        if not d:
            raise RuntimeError("connection closed")
        self.buf += d


GROUPS = [("/net/http/", "net/http"), ("/runtime/agent/", "agent"), ("/sched/", "sched"),
          ("/net/", "net"), ("/runtime/", "runtime"), ("/mem/", "mem"), ("/base/", "base"),
          ("libhttp_parser", "libhttp_parser"), ("jansson", "jansson"), ("libc.so", "libc"),
          ("liburing", "liburing")]


def group_of(fl, ob):
    for key, g in GROUPS:
        if key in (fl or "") or key in (ob or ""):
            return g
    return "other"


def parse_dump(path):
    """Total Ir, calls per callee name and self Ir per code group."""
    names, files, objs, calls, groups, total = {}, {}, {}, {}, {}, 0
    cfn, fl, ob, group, skip = None, None, None, "other", False

    def named(table, line, key):
        m = re.match(key + r"=\((\d+)\)(?: (.*))?", line)
        if not m:
            return line.split("=", 1)[1]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1))

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip:  # the inclusive cost of the call just named
                    skip = False
                elif " " in line:
                    groups[group] = groups.get(group, 0) + int(line.split()[1])
            elif line.startswith("fl="):
                fl = named(files, line, "fl")
            elif line.startswith(("fi=", "fe=")):
                named(files, line, line[:2])
            elif line.startswith("ob="):
                ob = named(objs, line, "ob")
            elif line.startswith("cob="):
                named(objs, line, "cob")
            elif line.startswith(("cfi=", "cfl=")):
                named(files, line, line[:3])
            elif line.startswith("fn="):
                named(names, line, "fn")
                group = group_of(fl, ob)
            elif line.startswith("cfn="):
                cfn = named(names, line, "cfn")
            elif line.startswith("calls="):
                calls[cfn] = calls.get(cfn, 0) + int(line[6:].split()[0])
                skip = True
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    return total, calls, groups


def measure(binary, requests, log):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="ac-cg-")
    out = os.path.join(tmp, "cg.out")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] +
                            agentd_cmd(binary, port, "0"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                c = Client(port)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("agentd under callgrind did not come up")
                time.sleep(0.2)
        for name, method, path, body in SCENARIOS:
            for _ in range(200):  # warm-up: slabs, buffers, call slots, the Date cache
                c.request(method, path, body)
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                           capture_output=True)
            for _ in range(requests):
                c.request(method, path, body)
            subprocess.run(["callgrind_control", "-d", name, str(proc.pid)], check=True,
                           capture_output=True)
            dumps = sorted((p for p in os.listdir(tmp) if p.startswith("cg.out.")),
                           key=lambda p: os.path.getmtime(os.path.join(tmp, p)))
            total, calls, groups = parse_dump(os.path.join(tmp, dumps[-1]))
            r = {"ir_per_req": total / requests,
                 "libc_allocs_per_req": sum(calls.get(n, 0) for n in ALLOC_LIBC) / requests,
                 "heap_allocs_per_req": sum(calls.get(n, 0) for n in ALLOC_HEAP) / requests,
                 "by_function": {n: calls[n] / requests for n in ALLOC_LIBC + ALLOC_HEAP
                                 if calls.get(n)},
                 "ir_per_req_by_group": {g: v / requests for g, v in
                                         sorted(groups.items(), key=lambda kv: -kv[1])}}
            res[name] = r
            print(f"{log} {name}: {r['ir_per_req']:.0f} Ir/req, libc allocs "
                  f"{r['libc_allocs_per_req']:.2f}/req, heap allocs "
                  f"{r['heap_allocs_per_req']:.2f}/req", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        subprocess.run(["rm", "-rf", tmp])
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="another build tree's root (its build/bin/agentd)")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    builds = [("this", os.path.join(ROOT, "build", "bin", "agentd"))]
    if a.baseline:
        builds.insert(0, ("baseline", os.path.join(a.baseline, "build", "bin", "agentd")))
    out = {name: measure(b, a.requests, name) for name, b in builds}
    meta = {"requests": a.requests, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "load": os.getloadavg()}
    if a.json:
        print(json.dumps({"meta": meta, "results": out}, indent=1))
        return
    print(f"# {meta['date']}, load {meta['load'][0]:.2f}, {a.requests} requests per scenario")
    for scen, *_ in SCENARIOS:
        row = "  ".join(f"{b}: {out[b][scen]['ir_per_req']:.0f} Ir, "
                        f"{out[b][scen]['libc_allocs_per_req']:.2f} libc + "
                        f"{out[b][scen]['heap_allocs_per_req']:.2f} heap allocs"
                        for b in out)
        print(f"{scen:16s} {row}")
    for b in out:
        print(f"{b}: instructions per request by code group (self cost)")
        for scen, *_ in SCENARIOS:
            print(f"  {scen:16s} " + "  ".join(
                f"{g} {v:.0f}" for g, v in out[b][scen]["ir_per_req_by_group"].items()
                if v >= 50))
    for b in out:
        h = out[b]["healthz"]["ir_per_req"]
        print(f"{b}: echo / healthz = {out[b]['echo']['ir_per_req'] / h:.2f} (instructions)")


if __name__ == "__main__":
    main()
