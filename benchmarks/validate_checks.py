"""How often the creator's checks fail footage that is right: real clips nominally in sync.

Run ``python benchmarks/validate_checks.py [--json OUT]``; prints one table and every verdict.

Cases: every real clip in ``../shared/data/real`` with picture and sound (talking faces and
foley, each recorded in sync as far as their sources say). All are scored together, so the mute
test swaps each clip's sound with the others' (a batch of 12). A talking face gets a prompt with a
spoken line (lip sync applies); a foley clip a prompt without one. The real clips have no stated
room, foley times or mix, so only the checks with a truth here are counted: lip sync (both
levels) and the mute test. A failure is a false failure; "can't tell" is counted apart.

The local reference models' confusion table (each fails its own check) is the golden test
(``tests/test_golden.py``), printed by ``pytest tests/test_golden.py -k fails_its_own -s``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.analysis.engine import analyze_batch, analyze_clip, batch_features, select_analyzers  # noqa: E402
from workbench.metrics.context import ClipContext  # noqa: E402
from workbench.outputs.checks import Reading, check_clip  # noqa: E402
from workbench.prompt import DialogueLine, Expect, Prompt  # noqa: E402

REAL = ROOT / ".." / "shared" / "data" / "real"
#: Checks with a truth on these clips (every clip is right).
COUNTED = ("lip_sync", "lip_sync_acceptable", "mute_test")
SKIP = Expect.model_validate({"skip": ["acoustic_match", "mix_balance", "foley_timing"]})


def clips() -> list[tuple[Path, Prompt]]:
    out = []
    for p in sorted((REAL / "talking_faces").glob("*.mp4")):
        line = DialogueLine(text="(the clip's own words)", start_s=0.0)
        out.append((p, Prompt(id=p.stem.lower().replace("_", "-"), scene="a person speaks", dialogue=(line,), duration_s=60)))
    for p in sorted((REAL / "foley").glob("*.mp4")):
        out.append((p, Prompt(id=p.stem.lower().replace("_", "-"), scene="sound events with visible causes", duration_s=60)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write every verdict to this file")
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"{REAL} not found: nothing to validate (a fresh clone has no ../shared)")
        return 0
    analyzers = select_analyzers(["lipsync", "mute_test"])
    cases = clips()
    ctxs = [ClipContext(path=p, prompt=pr) for p, pr in cases]
    scores = [analyze_clip(c, analyzers) for c in ctxs]
    feats = [batch_features(c, analyzers) for c in ctxs]
    for s, extra in zip(scores, analyze_batch(ctxs, feats, analyzers), strict=True):
        s.update(extra)
    rows = []
    for (path, prompt), sc in zip(cases, scores, strict=True):
        readings = {k: Reading(v.value, v.reason or "", v.details) for k, v in sc.items()}
        for v in check_clip(readings, prompt, SKIP):
            rows.append({"clip": path.name, "check": v.check, "outcome": v.outcome, "reason": v.reason})
    print(f"{'check':22s} {'clips':>5s} {'told':>5s} {'false fails':>12s} {'cant tell':>9s}")
    summary = {}
    for c in COUNTED:
        mine = [r for r in rows if r["check"] == c]
        told = [r for r in mine if r["outcome"] != "cant_tell"]
        fails = [r for r in told if r["outcome"] == "fail"]
        summary[c] = {"clips": len(mine), "told": len(told), "false_fails": len(fails)}
        share = f"{len(fails)}/{len(told)}" + (f" ({len(fails) / len(told):.0%})" if told else "")
        print(f"{c:22s} {len(mine):5d} {len(told):5d} {share:>12s} {len(mine) - len(told):9d}")
    print()
    for r in rows:
        print(f"  {r['clip']:48s} {r['check']:20s} {r['outcome']:9s} {r['reason']}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "verdicts": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
