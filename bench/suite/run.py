#!/usr/bin/env python3
"""The benchmark suite (issue 13): runs every step of bench/suite/steps.py
(each agentcore benchmark beside its baselines, alternating inside the
program), prints one progress line per step with the time left, and
writes one results file (schema: bench/suite/SCHEMA.md) with the
machine's facts, pinning, raw samples, medians, spread and ratios to the
baselines, then the trust warnings. Plots and the generated section of
bench/RESULTS.md come from that file (plot.py, report.py).

  bench/suite/run.py [--quick] [--only STEP,...] [--out build/bench/results.json]

Exit status: 0, or 1 when a step failed (its error is in results.json and
build/bench/logs/STEP.log). A step whose program is missing is skipped
with a warning, not failed.
"""
import argparse, json, math, os, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # noqa: E402
from steps import ROOT, STEPS, load  # noqa: E402

SCHEMA_VERSION = 1
SPREAD_LIMIT = 0.10


def quantile(s, q):
    """Linear-interpolated quantile of sorted s (as bench/harness.c)."""
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def stats(samples):
    s = sorted(samples)
    med = quantile(s, 0.5)
    p25, p75 = quantile(s, 0.25), quantile(s, 0.75)
    return {"median": med, "min": s[0], "max": s[-1], "p25": p25, "p75": p75,
            "spread": (p75 - p25) / abs(med) if med else 0.0,
            "range": (s[-1] - s[0]) / abs(med) if med else 0.0}


def fmt_s(sec):
    sec = max(0, int(sec))
    return f"{sec // 60}:{sec % 60:02d}"


def run_step(step, quick, logdir):
    """Runs one step; returns (doc, seconds, error or None)."""
    argv = step.argv(quick)
    env = dict(os.environ, **step.env)
    env.setdefault("GOCACHE", os.path.join(ROOT, "build", "bench", "gocache"))
    limit = max(120, 6 * (step.est[0] if quick else step.est[1]))
    t0 = time.monotonic()
    with open(os.path.join(logdir, f"{step.name}.log"), "w") as log:
        log.write("$ " + " ".join(argv) + "\n")
        log.flush()
        # Its own process group: on a time-out the servers a driver started
        # go too (killpg of the group we created, nothing else).
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                             cwd=ROOT, start_new_session=True)
        try:
            stdout, _ = p.communicate(timeout=limit)
        except BaseException as e:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            if isinstance(e, subprocess.TimeoutExpired):
                return None, time.monotonic() - t0, f"timed out after {limit} s"
            raise
        log.write(stdout)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        return None, secs, f"exit status {p.returncode}"
    try:
        return load(stdout), secs, None
    except ValueError as e:
        return None, secs, str(e)


def normalise(step, doc):
    """results.json benchmarks of one step: stats, roles, baselines, ratios."""
    out = []
    for e in step.parse(doc):
        if not e.samples:
            continue
        b = {"id": f"{step.name}/{e.case}/{e.subject}/{e.metric}", "step": step.name,
             "group": step.group, "case": e.case, "subject": e.subject, "metric": e.metric,
             "better": e.better, "role": "agentcore" if e.subject in step.ours else "baseline",
             "params": e.params, "samples": [float(x) for x in e.samples], "n": len(e.samples)}
        b.update(stats(b["samples"]))
        b["baselines"], b["ratio"] = [], None
        out.append(b)
    by_case = {}
    for b in out:
        by_case.setdefault((b["case"], b["metric"]), []).append(b)
    for group in by_case.values():
        bases = [b for b in group if b["role"] == "baseline"]
        for b in group:
            if b["role"] != "agentcore":
                continue
            b["baselines"] = [{"id": x["id"], "subject": x["subject"],
                               "ratio": b["median"] / x["median"] if x["median"] else None}
                              for x in bases]
            if b["baselines"]:
                b["ratio"] = b["baselines"][0]["ratio"]
    # A case with no agentcore row is information (e.g. a floor), not a baseline.
    for group in by_case.values():
        if not any(b["role"] == "agentcore" for b in group):
            for b in group:
                b["role"] = "info"
    return out


def cpu_list(text):
    """The CPUs of a list such as 0-2,5."""
    cpus = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    return cpus


def trust(facts, steps_out, benchmarks):
    """The reasons a result may not be trusted, as {kind, step, id, detail}."""
    w = []
    if len(facts["cpus_usable"]) < 2:
        w.append({"kind": "cpus", "step": None, "id": None,
                  "detail": f"only {len(facts['cpus_usable'])} CPU usable: client, server "
                            "and shards share it"})
    for s in steps_out:
        pin = s["pinning"]
        if s["status"] == "skipped":
            # A program of this tree not built is not a missing baseline.
            kind = ("not_built" if s["error"].startswith(("build/", "bench/"))
                    else "baseline_missing")
            w.append({"kind": kind, "step": s["name"], "id": None,
                      "detail": f"step skipped: {s['error']}"})
        if s["status"] == "failed":
            w.append({"kind": "failed", "step": s["name"], "id": None, "detail": s["error"]})
        if s["status"] == "ok" and pin["server"] is not None and (pin["client"] is None or set(
                cpu_list(pin["client"])) & set(cpu_list(pin["server"]))):
            w.append({"kind": "shared_cpu", "step": s["name"], "id": None,
                      "detail": f"client (CPUs {pin['client'] or 'any'}) and server (CPUs "
                                f"{pin['server']}) may share a CPU"})
        for miss in s.get("missing_baselines", []):
            w.append({"kind": "baseline_missing", "step": s["name"], "id": None,
                      "detail": f"baseline {miss} missing"})
    counts = {s["name"] for s in steps_out if s.get("counts")}
    for b in benchmarks:
        if b["step"] in counts:
            continue
        if b["role"] != "info" and b["spread"] > SPREAD_LIMIT:
            w.append({"kind": "spread", "step": b["step"], "id": b["id"],
                      "detail": f"spread (IQR/median) {b['spread'] * 100:.0f} % > "
                                f"{SPREAD_LIMIT * 100:.0f} %"})
        if b["n"] < 3 and b["role"] != "info":
            w.append({"kind": "few_samples", "step": b["step"], "id": b["id"],
                      "detail": f"{b['n']} sample(s): no spread"})
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated step names")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "results.json"))
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    outdir = os.path.dirname(os.path.abspath(a.out))
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    facts = machine.facts()
    steps = [s for s in STEPS if (not only or s.name in only) and (s.quick or not a.quick)]
    est = [0 if s.missing() else s.est[0] if a.quick else s.est[1] for s in steps]
    print(f"bench: {len(steps)} steps ({'quick' if a.quick else 'full'}), "
          f"{len(facts['cpus_usable'])} CPUs, load {facts['loadavg_start'][0]:.1f}, "
          f"estimate {fmt_s(sum(est))}", flush=True)
    t_start = time.monotonic()
    done_est = done_real = 0.0
    steps_out, benchmarks = [], []
    for i, step in enumerate(steps):
        # Time left: the estimates still to run, scaled by how the finished
        # steps compared with theirs (a loaded machine runs slower).
        scale = done_real / done_est if done_est else 1.0
        left = sum(est[i:]) * scale
        print(f"[{i + 1}/{len(steps)}] {step.name:14s} elapsed {fmt_s(time.monotonic() - t_start)}"
              f"  left ~{fmt_s(left)}", flush=True)
        rec = {"name": step.name, "group": step.group, "pinning": step.pinning,
               "pin_note": step.pin_note, "counts": step.counts,
               "argv": None, "status": "ok", "error": None, "seconds": 0.0,
               "ours": sorted(step.ours), "expected_baselines": list(step.expect)}
        miss = step.missing()
        if miss:
            rec.update(status="skipped", error=f"{miss} not installed or not built")
            print(f"    skipped: {rec['error']}", flush=True)
            steps_out.append(rec)
            done_est += est[i]
            continue
        rec["argv"] = [os.path.relpath(x, ROOT) if x.startswith(ROOT) else x
                       for x in step.argv(a.quick)]
        doc, secs, err = run_step(step, a.quick, logdir)
        rec["seconds"] = round(secs, 2)
        done_est, done_real = done_est + est[i], done_real + secs
        if err is None:
            try:
                got = normalise(step, doc)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                err = f"output not understood: {e!r}"
        if err:
            rec.update(status="failed", error=err)
            print(f"    FAILED: {err} (log: {os.path.relpath(logdir, ROOT)}/{step.name}.log)",
                  flush=True)
        else:
            subjects = {b["subject"] for b in got}
            rec["missing_baselines"] = [x for x in step.expect if x not in subjects]
            rec["raw"] = doc
            benchmarks += got
        steps_out.append(rec)
    facts["loadavg_end"] = list(os.getloadavg())
    res = {"schema": SCHEMA_VERSION, "suite": "quick" if a.quick else "full",
           "date": facts["date"], "seconds": round(time.monotonic() - t_start, 1),
           "machine": facts, "steps": steps_out, "benchmarks": benchmarks}
    res["warnings"] = trust(facts, steps_out, benchmarks)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"bench: done in {fmt_s(res['seconds'])}, {len(benchmarks)} series, "
          f"load {facts['loadavg_end'][0]:.1f} at the end -> {os.path.relpath(a.out)}")
    kinds = {}
    for w in res["warnings"]:
        kinds.setdefault(w["kind"], []).append(w)
    for kind, ws in kinds.items():
        print(f"TRUST WARNING ({kind}, {len(ws)}): " + "; ".join(
            (x["id"] or x["step"] or "") + ": " + x["detail"] for x in ws[:3])
            + (" ..." if len(ws) > 3 else ""))
    return 1 if any(s["status"] == "failed" for s in steps_out) else 0


if __name__ == "__main__":
    sys.exit(main())
