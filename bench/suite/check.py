#!/usr/bin/env python3
"""Checks that a results.json has the shape bench/suite/SCHEMA.md gives
(keys, types, consistency of the statistics with the raw samples, ids
the baselines point to) — not that its numbers are good: CI machines are
noisy. Prints the problems and exits 1 when there is one.

  bench/suite/check.py [results.json] [--require-step NAME ...]
"""
import argparse, json, math, os, sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NUM = (int, float)
TOP = {"schema": int, "suite": str, "date": str, "seconds": NUM, "machine": dict,
       "steps": list, "benchmarks": list, "warnings": list}
MACHINE = {"cpu_model": str, "cpus_online": int, "cpus_usable": list, "numa_nodes": int,
           "kernel": str, "io_uring": dict, "backend": str, "loadavg_start": list,
           "loadavg_end": list, "date": str}
STEP = {"name": str, "group": str, "pinning": dict, "status": str, "seconds": NUM,
        "ours": list, "expected_baselines": list}
BENCH = {"id": str, "step": str, "group": str, "case": str, "subject": str, "metric": str,
         "better": str, "role": str, "params": dict, "samples": list, "n": int, "median": NUM,
         "min": NUM, "max": NUM, "p25": NUM, "p75": NUM, "spread": NUM, "range": NUM,
         "baselines": list}
WARN = {"kind": str, "detail": str}


def keys(obj, spec, where, errs):
    for k, t in spec.items():
        if k not in obj:
            errs.append(f"{where}: no {k!r}")
        elif not isinstance(obj[k], t) or (isinstance(obj[k], bool) and t is not bool):
            errs.append(f"{where}: {k!r} is {type(obj[k]).__name__}")


def check(res, require=()):
    errs = []
    if not isinstance(res, dict):
        return ["not a JSON object"]
    keys(res, TOP, "results", errs)
    if errs:
        return errs
    keys(res["machine"], MACHINE, "machine", errs)
    keys(res["machine"].get("io_uring", {}), {"available": bool, "features": list,
                                              "opcodes": dict}, "machine.io_uring", errs)
    names = set()
    for s in res["steps"]:
        keys(s, STEP, f"step {s.get('name')}", errs)
        names.add(s.get("name"))
        if s.get("status") not in ("ok", "failed", "skipped"):
            errs.append(f"step {s.get('name')}: status {s.get('status')!r}")
        if set(s.get("pinning", {})) != {"server", "client", "baseline"}:
            errs.append(f"step {s.get('name')}: pinning keys {sorted(s.get('pinning', {}))}")
    for r in require:
        st = [s for s in res["steps"] if s.get("name") == r]
        if not st or st[0]["status"] != "ok":
            errs.append(f"step {r}: not run or not ok")
    ids = {b.get("id") for b in res["benchmarks"]}
    if len(ids) != len(res["benchmarks"]):
        errs.append("benchmark ids are not unique")
    for b in res["benchmarks"]:
        w = f"benchmark {b.get('id')}"
        before = len(errs)
        keys(b, BENCH, w, errs)
        if len(errs) > before:
            continue
        if b["step"] not in names:
            errs.append(f"{w}: step {b['step']!r} not in steps")
        if b["better"] not in ("lower", "higher") or b["role"] not in ("agentcore", "baseline",
                                                                       "info"):
            errs.append(f"{w}: better {b['better']!r} / role {b['role']!r}")
        s = b["samples"]
        if not s or b["n"] != len(s) or not all(isinstance(x, NUM) and math.isfinite(x)
                                                 for x in s):
            errs.append(f"{w}: samples missing, not finite or n wrong")
            continue
        eps = 1e-9 * max(1.0, abs(b["max"]))
        if not (min(s) - eps <= b["min"] <= b["p25"] + eps <= b["median"] + 2 * eps
                <= b["p75"] + 3 * eps <= b["max"] + 4 * eps <= max(s) + 5 * eps):
            errs.append(f"{w}: min <= p25 <= median <= p75 <= max does not hold for the samples")
        for base in b["baselines"]:
            if base.get("id") not in ids:
                errs.append(f"{w}: baseline {base.get('id')!r} not a benchmark")
            if base.get("ratio") is not None and not isinstance(base["ratio"], NUM):
                errs.append(f"{w}: ratio {base.get('ratio')!r}")
        if b["role"] == "agentcore" and b["baselines"] and b.get("ratio") != \
                b["baselines"][0]["ratio"]:
            errs.append(f"{w}: ratio is not the first baseline's")
    for x in res["warnings"]:
        keys(x, WARN, "warning", errs)
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="?",
                    default=os.path.join(ROOT, "build", "bench", "results.json"))
    ap.add_argument("--require-step", action="append", default=[])
    a = ap.parse_args()
    try:
        res = json.load(open(a.results))
    except (OSError, ValueError) as e:
        print(f"bench-check: {a.results}: {e}")
        return 1
    errs = check(res, a.require_step)
    for e in errs[:50]:
        print(f"bench-check: {a.results}: {e}")
    if not errs:
        print(f"bench-check: {a.results}: well-formed ({len(res['benchmarks'])} series, "
              f"{len(res['steps'])} steps)")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
