"""The emulator's wire format against Stripe's published API description, as totals.

Runs the conformance suite's drive (tests/emulator/conformance/spec_drive.py) once and prints
valid/total per kind of body and source (responses by resource, /v1/events, webhook
deliveries, embedded event objects) and, per served route, how many of the parameters the
current API lists are accepted, followed by every problem found. Exit status 1 if anything is
not valid. Usage: scripts/emulator_conformance [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "emulator" / "conformance"))

import spec_drive  # noqa: E402
import stripe_spec  # noqa: E402
from spec_check import Checker  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    spec = stripe_spec.Spec()
    checker = Checker(spec)
    records = spec_drive.run(seed=args.seed)
    total: Counter[tuple[str, str]] = Counter()
    valid: Counter[tuple[str, str]] = Counter()
    problems: list[str] = []
    for r in records:
        kinds = [checker.kind(r.body, r.status)]
        if r.source in ("event", "delivery"):
            kinds.append("data.object: " + str(r.body["data"]["object"].get("object")))
        found = checker.problems(r.body, r.status)
        for kind in kinds:
            total[(r.source, kind)] += 1
            where = "data.object" if kind.startswith("data.object") else None
            bad = [p for p in found if where is None or p.startswith("$.data.object")]
            if not bad:
                valid[(r.source, kind)] += 1
        if kinds[0] == "list":  # each object in a list page counts as that resource too
            for i, item in enumerate(r.body["data"]):
                key = (r.source, f"list item: {item.get('object')}")
                total[key] += 1
                if not any(p.startswith(f"$.data[{i}]") for p in found):
                    valid[key] += 1
        problems += [f"{r.source} {r.operation}: {p}" for p in found]
    print(f"Stripe API description: stripe-node 23.1.0 .d.ts (API {stripe_spec.DTS_API_VERSION})"
          f" + OpenAPI {stripe_spec.OAS_API_VERSION}; emulator seed {args.seed}\n")
    print(f"{'source':<10} {'body':<42} {'valid':>7} / total")
    for source in ("response", "event", "delivery"):
        rows = sorted(k for k in total if k[0] == source)
        for key in rows:
            print(f"{source:<10} {key[1]:<42} {valid[key]:>7} / {total[key]}")
        top = [k for k in rows if not k[1].startswith(("data.object", "list item"))]
        s_valid, s_total = sum(valid[k] for k in top), sum(total[k] for k in top)
        print(f"{source:<10} {'ALL':<42} {s_valid:>7} / {s_total}\n")
    params = spec_drive.param_acceptance(spec)
    by_route: dict[str, list[spec_drive.ParamResult]] = defaultdict(list)
    for p in params:
        by_route[p.route].append(p)
    print(f"{'parameters accepted (current API)':<53} {'ok':>7} / total")
    for route, results in by_route.items():
        print(f"{route:<53} {sum(r.accepted for r in results):>7} / {len(results)}")
        problems += [f"param {route} {r.param}: refused as unknown" for r in results
                     if not r.accepted]
        problems += [f"param {route} {r.param}: {p}" for r in results
                     for p in checker.problems(r.body, r.status)]
    print(f"{'ALL':<53} {sum(p.accepted for p in params):>7} / {len(params)}\n")
    judged = sorted(spec.dts_only_fields)
    print(f"fields judged by the .d.ts alone (added after {stripe_spec.OAS_API_VERSION}): "
          f"{len(judged)}")
    print(f"problems: {len(problems)}")
    for line in problems:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
