"""The benchmark suite's steps: which program runs, with which flags in the
full and the quick suite, how its JSON becomes results.json entries, which
subjects are agentcore's and which are the baselines it is compared with.

Adding a benchmark is one Step(...) in STEPS (see bench/suite/README.md):
a C program on bench/harness.{h,c} needs only `rules` (regexes that split
its scenario names into case and subject); a Python driver needs a parser
that yields Entry tuples.
"""
import json, os, re, shutil
from collections import namedtuple

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.path.join(ROOT, "build", "bin")

# One measured series. case: what is measured (shared by a subject and its
# baselines); subject: who was measured; metric/unit; better: "lower" or
# "higher"; samples: raw samples in the order measured; params: numbers
# plots use (conns, depth...).
Entry = namedtuple("Entry", "case subject metric better samples params")

# CPUs used when pinning: server (and baseline servers) on the last CPU,
# clients on CPU 0, so that on 2 CPUs they never share one.
SERVER_CPU = str(max(os.sched_getaffinity(0)))
CLIENT_CPU = str(min(os.sched_getaffinity(0)))


class Step:
    """name: results.json "step"; argv(quick) -> command; est: (quick, full)
    seconds for the ETA before a first measurement; ours: subjects that are
    agentcore; expect: baselines that must be present (else a trust
    warning); needs: programs that must exist (else the step is skipped);
    pinning: {"server","client","baseline"} CPU lists (None: not pinned);
    quick: run in QUICK=1 too; rules / parse: see the module comment;
    group: the plot and table it belongs to; env: extra environment;
    pin_note: where an in-process program pins its own threads; counts:
    the step counts (bytes, instructions), so no spread/samples warnings."""

    def __init__(self, name, argv, est, ours, expect=(), needs=(), pinning=None, quick=True,
                 rules=(), parse=None, group=None, env=None, better=None, pin_note=None,
                 counts=False):
        self.name, self.argv, self.est, self.ours, self.expect = name, argv, est, ours, expect
        self.needs, self.quick, self.rules, self.group = needs, quick, rules, group or name
        self.pinning = pinning or {"server": None, "client": None, "baseline": None}
        self.parse = parse or self.parse_harness
        self.env, self.better = env or {}, better or {}
        self.pin_note, self.counts = pin_note, counts

    def missing(self):
        """The first program this step needs that is not there, or None."""
        for n in self.needs:
            path = n if os.path.isabs(n) else os.path.join(ROOT, n)
            if not (os.path.exists(path) or shutil.which(n)):
                return n
        return None

    def parse_harness(self, doc):
        """Entries from a bench/harness.c --json object: every result with
        samples; ac_bench_value lines are derived numbers and skipped (the
        suite computes its own ratios)."""
        for r in doc["results"]:
            if "median" not in r:
                continue
            case, subject = r["scenario"], "agentcore"
            for rx, c, s in self.rules:
                m = re.match(rx, r["scenario"])
                if m:
                    case, subject = m.expand(c), m.expand(s)
                    break
            yield Entry(case, subject, r["metric"], better_of(r["metric"], self.better),
                        r.get("samples") or [r["median"]], {})


def better_of(metric, overrides):
    """Whether lower or higher is better for a metric, from its unit."""
    if metric in overrides:
        return overrides[metric]
    m = metric.lower()
    return "higher" if ("/s" in m or m in ("x", "gb/s") or "per_s" in m or m == "rps") else "lower"


def harness(prog, quick_args=("--quick",), full_args=()):
    """argv for a bench/harness.c program."""
    return lambda quick: [os.path.join(BIN, prog), "--json"] + list(
        quick_args if quick else full_args)


def py(script, quick_args, full_args):
    return lambda quick: ["python3", os.path.join(ROOT, "bench", script), "--json"] + list(
        quick_args if quick else full_args)


def parse_net_echo(doc):
    names = {"msgs_per_s": ("msg/s", "higher"), "p99_us": ("p99 us", "lower"),
             "cpu_ns_per_msg": ("server CPU ns/msg", "lower")}
    for row in doc["rows"]:
        samples = row.get("samples", {})
        for k, (metric, better) in names.items():
            yield Entry(f"echo {row['conns']} conns, depth {row['depth']}", row["server"], metric,
                        better, samples.get(k) or [row[k]],
                        {"conns": row["conns"], "depth": row["depth"]})


HTTP_METRICS = {"rps": ("req/s", "higher"), "p99_ms": ("p99 ms", "lower"),
                "cpu_us_per_req": ("server CPU us/req", "lower")}


def parse_http(doc):
    """http_agentd.py: {scenario: {server: {measure: {median, samples}}}}."""
    for scen, by in doc["results"].items():
        conns = int(re.search(r"c(\d+)", scen).group(1)) if re.search(r"c(\d+)", scen) else 0
        for server, ms in by.items():
            if server == "ratios":
                continue
            for k, (metric, better) in HTTP_METRICS.items():
                if k in ms:
                    yield Entry(scen, server, metric, better,
                                ms[k].get("samples") or [ms[k]["median"]], {"conns": conns})


def parse_on_off(label):
    """http_metrics.py and the like: {scenario: {"on": .., "off": ..}}."""
    def parse(doc):
        for scen, by in doc["results"].items():
            for mode in ("on", "off"):
                for k, (metric, better) in HTTP_METRICS.items():
                    if k in by.get(mode, {}):
                        yield Entry(scen, f"{label} {mode}", metric, better,
                                    by[mode][k].get("samples") or [by[mode][k]["median"]], {})
    return parse


def parse_http_steal(doc):
    """http_steal.py (wip/perf): {"this/cpus 0": {...}, "this/cpus 0-1": {...}}:
    one session's compute calls on 2 shards (stealing) against 1 shard."""
    for key, ms in doc["results"].items():
        build, cpus = key.split("/cpus ")
        subject = ("2 shards (stealing)" if "-" in cpus else "1 shard") + (
            "" if build == "this" else f" ({build})")
        for k, (metric, better) in HTTP_METRICS.items():
            if k in ms:
                yield Entry("compute, one session", subject, metric, better,
                            ms[k].get("samples") or [ms[k]["median"]], {})


def parse_callgrind(doc):
    """agent_callgrind.py (wip/perf): instructions and allocations per
    request under callgrind, per build ("this", "baseline") and scenario."""
    names = {"ir_per_req": "Ir/req", "libc_allocs_per_req": "libc allocs/req",
             "heap_allocs_per_req": "heap allocs/req"}
    for build, scens in doc["results"].items():
        for scen, r in scens.items():
            for k, metric in names.items():
                if k in r:
                    yield Entry(scen, "agentcore" if build == "this" else f"agentd ({build})",
                                metric, "lower", [r[k]], {})


def parse_net_idle(doc):
    yield Entry(f"{doc['conns']} idle connections", "ac-echo", "RSS bytes/conn", "lower",
                [doc["bytes_per_conn"]], {"conns": doc["conns"]})


def epoll_args(script, quick):
    """--epoll (agentcore on the epoll backend as a row of its own) for a
    driver that has it, in the full suite (the quick one stays short)."""
    src = open(os.path.join(ROOT, "bench", script)).read()
    return ["--epoll"] if "--epoll" in src and not quick else []


PIN_NET = {"server": SERVER_CPU, "client": CLIENT_CPU, "baseline": SERVER_CPU}
PIN_HTTP_ENV = {"AC_BENCH_SERVER_CPUS": SERVER_CPU, "AC_BENCH_CLIENT_CPUS": CLIENT_CPU}
STEAL_RULES = [(r"^(.*), stealing (on)$", r"\1", r"stealing \2"),
               (r"^(.*), stealing (off)$", r"\1", r"stealing \2")]

# bench_dlock's rows, each compared with redis-benchmark's raw SET NX PX
# round trip at the same percentile (the floor).
DLOCK_ROWS = ("resp client SET NX PX", "lock(1) acquire+release", "redlock(3) acquire+release",
              "redlock(3) 1 frozen acq+rel")

STEPS = [
    Step("runtime", harness("bench_runtime"), (12, 130),
         pin_note="shards and the baseline threads on CPUs 0 and 1 (bench_runtime.c)",
         ours={"agentcore"},
         expect=("mutex+condvar", "clock_nanosleep"),
         rules=[(r"^round trip, shard msg \(target asleep\) (p\d+)$", r"round trip \1",
                 "agentcore"),
                (r"^round trip, mutex\+condvar baseline (p\d+)$", r"round trip \1",
                 "mutex+condvar"),
                (r"^one-way, shard 0 -> shard 1$", "one-way messages", "agentcore"),
                (r"^one-way, mutex\+condvar queue baseline$", "one-way messages", "mutex+condvar"),
                (r"^timer lateness, wheel (p\d+)$", r"timer lateness \1", "agentcore"),
                (r"^timer lateness, clock_nanosleep baseline (p\d+)$", r"timer lateness \1",
                 "clock_nanosleep")],
         group="runtime"),
    Step("mem", harness("bench_mem"), (20, 120),
         pin_note="threads pinned to CPUs 0 and 1, the same for every allocator",
         ours={"agentcore"},
         expect=("glibc", "jemalloc", "mimalloc"),
         rules=[(r"^(.*): (agentcore|glibc|jemalloc|mimalloc)$", r"\1", r"\2"),
                (r"^(.*): handoff alone \(no allocator\)$", r"\1 handoff floor", "none")]),
    Step("sched_spawn", harness("bench_sched_spawn"), (2, 10),
         pin_note="submitter on CPU 0, pool workers on every CPU",
         ours={"agentcore"},
         expect=("pthread pool",),
         rules=[(r"^sched ac_spawn, batch 256$", "spawn, batch 256", "agentcore"),
                (r"^pthread pool, .*$", "spawn, batch 256", "pthread pool")],
         group="spawn"),
    Step("sched_deque", harness("bench_sched_deque"), (1, 5),
         pin_note="owner on CPU 0, thief on CPU 1",
         ours={"agentcore"}),
    Step("sched_steal", harness("bench_sched_steal"), (1, 5),
         pin_note="two shards, CPUs 0 and 1",
         ours={"stealing on"},
         expect=("stealing off",), rules=STEAL_RULES, group="steal"),
    Step("runtime_steal", harness("bench_runtime_steal"), (2, 10),
         pin_note="runtime shards on CPUs 0 and 1",
         ours={"stealing on"},
         expect=("stealing off",), rules=STEAL_RULES + [(r"^speed-up.*$", r"\g<0>", "ratio")],
         group="steal"),
    Step("http_parser", harness("bench_http"), (1, 5),
         pin_note="CPU 0, both parsers",
         ours={"ac_http_parser"},
         expect=("libhttp-parser",),
         rules=[(r"^(.*): ac_http_parser$", r"\1", "ac_http_parser"),
                (r"^(.*): libhttp-parser alone \(baseline\)$", r"\1", "libhttp-parser")]),
    Step("net_zc", harness("bench_net_zc", ("--runs", "3", "--seconds", "0.1")), (4, 20),
         pin_note="sender on CPU 0, sink shard on CPU 1", ours={"zc"},
         rules=[(r"^(\d+ KiB) (\S+)$", r"\1", r"\2")]),
    Step("net_echo", lambda q: py("net_echo.py", ["--runs", "3", "--seconds", "0.5", "--conns",
                                                  "1,128", "--depths", "1"],
                                  ["--runs", "5", "--seconds", "0.5", "--conns", "1,16,128,1024",
                                   "--depths", "1,8"])(q) + epoll_args("net_echo.py", q),
         (25, 130), ours={"ac-echo", "ac-echo@epoll"}, expect=("epoll-echo", "uring-echo"),
         needs=("build/bin/ac-echo", "build/bin/epoll-echo", "build/bin/uring-echo",
                "build/bin/ac-loadgen"),
         pinning=PIN_NET, parse=parse_net_echo, group="echo"),
    Step("net_idle", py("net_idle.py", ["--conns", "1000"], ["--conns", "10000"]), (3, 15),
         ours={"ac-echo"}, pin_note="ac-echo on CPU 1; RSS is measured, not time", counts=True,
         needs=("build/bin/ac-echo",), parse=parse_net_idle),
    Step("http", lambda q: py("http_agentd.py", ["--runs", "3", "--seconds", "1", "--conns", "64"],
                              ["--runs", "5", "--seconds", "1", "--conns", "16,64,256"])(q)
         + epoll_args("http_agentd.py", q),
         (35, 190), ours={"agentd", "agentd-epoll"},
         expect=("nginx", "go") + (("h2o",) if shutil.which("h2o") else ()),
         needs=("build/bin/agentd", "wrk", "nginx", "go"),
         pinning={"server": SERVER_CPU, "client": CLIENT_CPU, "baseline": SERVER_CPU},
         env=PIN_HTTP_ENV, parse=parse_http),
    Step("http_metrics", py("http_metrics.py", ["--runs", "3", "--seconds", "2"],
                            ["--runs", "5", "--seconds", "2"]),
         (30, 50), ours={"metrics on"}, expect=("metrics off",), quick=False,
         needs=("build/bin/agentd", "wrk"),
         pinning={"server": SERVER_CPU, "client": CLIENT_CPU, "baseline": SERVER_CPU},
         env=PIN_HTTP_ENV, parse=parse_on_off("metrics")),
    # Stealing end to end through HTTP (wip/perf): agentd on CPUs 0-1 against CPU 0 alone.
    Step("http_steal", py("http_steal.py", ["--runs", "3", "--seconds", "1"],
                          ["--runs", "5", "--seconds", "2"]),
         (12, 35), ours={"2 shards (stealing)"}, expect=("1 shard",),
         needs=("bench/http_steal.py", "build/bin/agentd", "wrk"),
         pinning={"server": "0-1", "client": None, "baseline": "0"},
         parse=parse_http_steal, group="steal"),
    # Instructions and allocations per request under callgrind (wip/perf): counts, not
    # time, so one sample is the answer; full suite only (valgrind is slow).
    Step("agent_callgrind", py("agent_callgrind.py", [], ["--requests", "2000"]), (60, 90),
         ours={"agentcore"}, needs=("bench/agent_callgrind.py", "build/bin/agentd", "valgrind"),
         pin_note="one shard; counts do not depend on placement", quick=False, counts=True,
         parse=parse_callgrind),
    # Lock benchmarks (wip/locks): bench_dlock against redis-benchmark's raw round trip.
    Step("dlock", harness("bench_dlock", ("--quick", "--pin"), ("--pin",)), (15, 60),
         ours=set(DLOCK_ROWS) | {"agentcore"}, expect=("redis-benchmark",),
         needs=("build/bin/bench_dlock", "redis-server", "redis-benchmark"),
         pinning={"server": "1", "client": "0", "baseline": "0"},  # bench_dlock --pin's CPUs
         rules=[(r"^raw redis-benchmark SET NX PX (p\d+)$", r"\1", "redis-benchmark"),
                (r"^(%s) (p\d+)$" % "|".join(re.escape(x) for x in DLOCK_ROWS), r"\2", r"\1")],
         group="lock"),
]


def load(stdout):
    """The JSON object a program printed (the last line that parses)."""
    try:
        return json.loads(stdout)
    except ValueError:
        for line in reversed(stdout.strip().splitlines()):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise ValueError("no JSON object in the output")
