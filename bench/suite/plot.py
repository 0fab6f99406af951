#!/usr/bin/env python3
"""Plots of a results.json with gnuplot (Debian gnuplot-nox), each as SVG
and PNG in the output folder (default build/bench/plots):

  http_rps.*, http_p99.*    req/s and p99 against connections, agentd vs
                            nginx vs Go (vs h2o where installed)
  echo_cpu.*                server CPU ns/msg against connections, ac-echo
                            vs epoll-echo vs uring-echo
  mem.*                     ns/op (ns/obj) bars per allocator
  spawn.*                   ns/task: ac_spawn vs the pthread pool
  steal.*                   time with stealing on, relative to off
  lock.*                    lock latency (when the lock step ran)
Bars show the median and the p25..p75 range. A plot whose data the run
does not have is left out. Prints the files written.

  bench/suite/plot.py [results.json] [--out DIR]
"""
import argparse, json, os, subprocess, sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TERMS = [("svg", "set terminal svg size 900,500 dynamic background rgb 'white'"),
         ("png", "set terminal pngcairo size 900,500")]


def q(s):
    """A string quoted for a gnuplot data block."""
    return '"' + str(s).replace('"', "'") + '"'


def render(outdir, name, script):
    """Runs one gnuplot script per terminal; returns the files written."""
    out = []
    for ext, term in TERMS:
        path = os.path.join(outdir, f"{name}.{ext}")
        full = f"{term}\nset output {q(path)}\n{script}\nunset output\n"
        r = subprocess.run(["gnuplot"], input=full, text=True, capture_output=True, timeout=60)
        if r.returncode != 0:
            sys.stderr.write(f"plot {name}.{ext}: {r.stderr}")
            continue
        out.append(path)
    return out


def lines(benchmarks, step, metric, xparam, title, ylabel, where=None):
    """A gnuplot script: one line per subject, x = params[xparam]."""
    series = {}
    for b in benchmarks:
        if b["step"] == step and b["metric"] == metric and xparam in b["params"]:
            if where and not where(b):
                continue
            label = b["subject"] + (f" {b['case'].split('/')[0]}" if step == "http" else "")
            if step == "echo" or b["step"] == "net_echo":
                label = f"{b['subject']} depth {b['params'].get('depth')}"
            series.setdefault(label, []).append(
                (b["params"][xparam], b["median"], b["p25"], b["p75"]))
    if not series:
        return None
    blocks, plots = [], []
    for i, (label, pts) in enumerate(sorted(series.items())):
        rows = "\n".join(f"{x} {m} {lo} {hi}" for x, m, lo, hi in sorted(pts))
        blocks.append(f"$d{i} << EOD\n{rows}\nEOD")
        plots.append(f"$d{i} using 1:2:3:4 with yerrorlines title {q(label)}")
    return "\n".join(blocks) + f"""
set title {q(title)}
set xlabel "connections"
set ylabel {q(ylabel)}
set logscale x 2
set key outside right
set grid
plot """ + ", ".join(plots)


def bars(benchmarks, select, title, ylabel, relative_to=None, log=False):
    """A gnuplot clustered histogram: rows = cases, columns = subjects,
    median with p25..p75 error bars. relative_to: subjects; divide by the
    first one's median of the same case (then 1.0 is the baseline)."""
    rows, subjects = {}, []
    for b in benchmarks:
        if not select(b):
            continue
        key = b["case"] if len({x["metric"] for x in benchmarks if select(x)}) == 1 else \
            f"{b['case']} ({b['metric']})"
        rows.setdefault(key, {})[b["subject"]] = b
        if b["subject"] not in subjects:
            subjects.append(b["subject"])
    if not rows:
        return None
    lines_ = []
    for case, by in rows.items():
        base = next((by[r]["median"] for r in relative_to if r in by), None) \
            if relative_to else 1.0
        if not base:
            continue
        cells = []
        for s in subjects:
            b = by.get(s)
            cells += [f"{b['median'] / base:.6g} {b['p25'] / base:.6g} {b['p75'] / base:.6g}"
                      if b else "NaN NaN NaN"]
        lines_.append(q(case) + " " + " ".join(cells))
    if not lines_:
        return None
    plots = [f"$d using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}:xtic(1) title {q(s)}"
             for i, s in enumerate(subjects)]
    return f"""$d << EOD
{chr(10).join(lines_)}
EOD
set title {q(title)}
set ylabel {q(ylabel)}
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.9
set xtics rotate by -25 font ",9" nomirror
set key outside right
set grid ytics
""" + ("set logscale y\n" if log else "set yrange [0:*]\n") + """plot """ + ", ".join(plots)


def plots(res):
    """(name, gnuplot script or None) for every plot of a results.json."""
    bm = res["benchmarks"]
    yield "http_rps", lines(bm, "http", "req/s", "conns", "HTTP requests/s (wrk, keep-alive)",
                            "requests/s")
    yield "http_p99", lines(bm, "http", "p99 ms", "conns", "HTTP p99 latency", "p99 (ms)")
    yield "echo_cpu", lines(bm, "net_echo", "server CPU ns/msg", "conns",
                            "Echo server CPU per 64 B message", "CPU ns/msg")
    yield "mem", bars(bm, lambda b: b["step"] == "mem" and b["role"] != "info",
                      "Allocators: agentcore slab vs glibc, jemalloc, mimalloc",
                      "ns per op/obj (log scale)", log=True)
    yield "spawn", bars(bm, lambda b: b["step"] == "sched_spawn" and b["role"] != "info"
                        and b["case"].startswith("spawn"),
                        "Spawn: ac_spawn vs a pthread pool", "ns/task")
    yield "steal", bars(bm, lambda b: b["group"] == "steal" and b["role"] != "info",
                        "Work stealing: on relative to off (time: lower is better; req/s: higher)",
                        "relative to stealing off (1 shard)",
                        relative_to=("stealing off", "1 shard"))
    yield "lock", bars(bm, lambda b: b["group"] == "lock", "Lock latency", "us")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="?",
                    default=os.path.join(ROOT, "build", "bench", "results.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "plots"))
    a = ap.parse_args()
    res = json.load(open(a.results))
    os.makedirs(a.out, exist_ok=True)
    for name, script in plots(res):
        if script:
            for path in render(a.out, name, script):
                print(path)


if __name__ == "__main__":
    main()
