#!/usr/bin/env python3
"""Compares two results.json files by their ratios to the baselines (not
absolute times: the two runs may be on different machines). Prints every
agentcore series whose ratio to a baseline moved more than --threshold
(default 10 %), marked "regression" when it moved the bad way (a ratio of
a lower-is-better metric went up, of a higher-is-better metric went down)
and "improvement" otherwise; "noisy" when a series involved had a spread
(IQR/median) above the threshold in either file (still counted). Exit
status 1 when there is a regression, 2 on unreadable input, else 0.

  bench/suite/compare.py OLD.json [NEW.json] [--threshold 0.10]
"""
import argparse, json, os, sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def ratios(res):
    """{(series id, baseline subject): (ratio, better, spread)} of agentcore
    series; spread: the larger of the series' and the baseline's."""
    out = {}
    by_id = {b["id"]: b for b in res["benchmarks"]}
    for b in res["benchmarks"]:
        if b["role"] != "agentcore":
            continue
        for base in b["baselines"]:
            if base["ratio"]:
                spread = max(b["spread"], by_id.get(base["id"], b)["spread"])
                out[(b["id"], base["subject"])] = (base["ratio"], b["better"], spread)
    return out


def compare(old, new, threshold):
    """[(id, baseline, old ratio, new ratio, change, verdict, spread)] past
    the threshold; spread: the largest of the four series' (a hint of noise)."""
    o, n = ratios(old), ratios(new)
    rows = []
    for key in sorted(o.keys() & n.keys()):
        (ro, better, so), (rn, _, sn) = o[key], n[key]
        change = rn / ro - 1
        if abs(change) <= threshold:
            continue
        worse = change > 0 if better == "lower" else change < 0
        rows.append((key[0], key[1], ro, rn, change, "regression" if worse else "improvement",
                     max(so, sn)))
    return rows, sorted(o.keys() - n.keys()), sorted(n.keys() - o.keys())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=os.path.join(ROOT, "build", "bench", "results.json"))
    ap.add_argument("--threshold", type=float, default=0.10)
    a = ap.parse_args()
    try:
        old, new = json.load(open(a.old)), json.load(open(a.new))
    except (OSError, ValueError) as e:
        print(f"bench-compare: {e}", file=sys.stderr)
        return 2
    rows, gone, added = compare(old, new, a.threshold)
    print(f"bench-compare: {a.old} ({old.get('date')}) -> {a.new} ({new.get('date')}); "
          f"ratios to baselines moved more than {a.threshold * 100:.0f} %:")
    for sid, base, ro, rn, change, verdict, spread in rows:
        noisy = f"  [spread up to {spread * 100:.0f} %: noisy]" if spread > a.threshold else ""
        print(f"  {verdict:11s} {sid} vs {base}: {ro:.3f} -> {rn:.3f} ({change * 100:+.0f} %)"
              + noisy)
    if not rows:
        print("  none")
    if gone:
        print(f"  ({len(gone)} ratio(s) only in the old file, e.g. {gone[0][0]} vs {gone[0][1]})")
    if added:
        print(f"  ({len(added)} ratio(s) only in the new file)")
    bad = sum(1 for r in rows if r[5] == "regression")
    if bad:
        print(f"bench-compare: {bad} regression(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
