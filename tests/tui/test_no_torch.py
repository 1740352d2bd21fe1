"""The dashboard's process never imports torch, diffusers or transformers, through a full flow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

FLOW = textwrap.dedent(
    """
    import asyncio, sys
    from qbtui.tui import make_app

    async def idle(pilot):
        # cancelled or failed workers count as finished (wait_for_complete would raise)
        idle_turns = 0
        while idle_turns < 3:
            busy = any(not worker.is_finished for worker in pilot.app.workers)
            idle_turns = 0 if busy else idle_turns + 1
            await pilot.pause(0.02 if busy else None)

    async def flow():
        app = make_app(sys.argv[1], watch=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await idle(pilot)
            for keys in (["d"], ["escape"], ["t"], ["escape"], ["r"], ["escape"], ["f1"], ["escape"], ["p"], ["escape"]):
                await pilot.press(*keys)
                await pilot.pause()
                await idle(pilot)
            await pilot.press("ctrl+p", *"Train", "enter")
            await idle(pilot)
            await pilot.pause()
            return type(app.screen).__name__

    screen = asyncio.run(flow())
    heavy = sorted(name for name in ("torch", "diffusers", "transformers", "accelerate") if name in sys.modules)
    print(screen, "heavy:", ",".join(heavy) or "none")
    """
)


def test_app_process_imports_no_torch(demo_registry, run_writer):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=5)
    result = subprocess.run(
        [sys.executable, "-c", FLOW, str(demo_registry)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last == "TrainingScreen heavy: none", result.stdout[-2000:] + result.stderr[-2000:]
