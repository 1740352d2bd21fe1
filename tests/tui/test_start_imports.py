"""The dashboard's start imports only what its first frame needs (issue 27: first frame < 0.4 s).

Structural, not timed: a fresh interpreter runs the bare `qbtui --registry R` (the CLI's
`main`, then `make_app`), the app headless, until its first frame is drawn (the moment live updates start: scans, which do need PIL,
begin after it). Modules the first frame does not use must not be loaded by then.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Loaded on first use: image decoding (previews, scans), the Training screen's chart,
# terminal graphics, the other commands' CLI modules; and never, in this process, torch & co.
DEFERRED = (
    "PIL",
    "plotext",
    "textual_plotext",
    "textual_image",
    "qbtui.cli.dataset",
    "qbtui.cli.runs",
    "qbtui.cli.remote",
    "qbtui.cli.pictures",
    "qbtui.cli.likeness",
    "torch",
    "diffusers",
    "transformers",
)

FIRST_FRAME = textwrap.dedent(
    """
    import json, sys
    from qbtui.tui.app import QbtuiApp

    seen = {}
    run = QbtuiApp.run

    def run_headless(app, **options):
        seen["made"] = sorted(sys.modules)
        return run(app, headless=True)

    def first_frame_drawn(app):
        seen["first_frame"] = sorted(sys.modules)
        app.exit()

    QbtuiApp.run = run_headless
    QbtuiApp._start_live_updates = first_frame_drawn
    from qbtui.cli import main
    code = main(["--registry", sys.argv[1]])
    print(json.dumps({"code": code, **seen}))
    """
)


def test_first_frame_loads_no_deferred_module(demo_registry, run_writer):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=5)
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(demo_registry)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["code"] == 0
    assert "qbtui.tui.screens.dashboard" in loaded["made"]
    assert "textual" in loaded["first_frame"]
    for when in ("made", "first_frame"):
        early = sorted(name for name in loaded[when] if name.split(".")[0] in DEFERRED or name in DEFERRED)
        assert early == [], f"loaded before the first frame ({when}): {early}"
