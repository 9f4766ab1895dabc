"""CI variant of the bounded load test: ``bench/load.py`` for ~30 s as a subprocess.

The subprocess starts its own anvil, workload and node (the session fixtures' chain is left
alone: the load test mines blocks while it runs) and writes its JSON report. Asserted: zero
unintended errors, every spot-checked balance and block equal to the raw JSON-RPC answer, the
node alive at the end, and its RSS growth after warm-up under a generous bound (30 s is short).
Latency and throughput are printed, never asserted. ``LOAD_SHORT_DURATION`` changes the length.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.devnet  # every test here starts a node

ROOT = Path(__file__).resolve().parent.parent
DURATION = float(os.environ.get("LOAD_SHORT_DURATION", "30"))
MAX_RSS_GROWTH_PCT = 25.0


@pytest.mark.timeout(int(DURATION) + 300)
def test_short_mixed_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "load.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--duration",
            str(DURATION),
            "--concurrency",
            "8",
            "--mine-interval",
            "1",
            "--spot-check",
            "0.2",
            "--max-rss-growth",
            str(MAX_RSS_GROWTH_PCT),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DURATION + 240,
    )
    with capsys.disabled():
        print("\n" + run.stdout[-6000:])
    assert out.exists(), f"no report (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    report = json.loads(out.read_text())

    assert report["totals"]["requests"] > 0
    assert report["unintended_errors"] == {}, json.dumps(report["unintended_examples"])[:4000]
    spot = report["spot_checks"]
    assert spot["answers"] > 0 and spot["block_answers_checked"] > 0
    assert spot["mismatch_count"] == 0, json.dumps(spot["mismatches"])[:4000]
    assert report["intended_errors"], "the intended errors were never exercised"
    assert report["node_alive_at_end"]
    growth = report["rss"]["growth_pct"]
    assert growth is not None and growth <= MAX_RSS_GROWTH_PCT, report["rss"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
