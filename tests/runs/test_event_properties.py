"""Property: whatever lines events.jsonl holds, `runs --json` and `logs` never raise (issue 10, property b)."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from qbtui.cli import main
from qbtui.events import REQUIRED_FIELDS
from qbtui.rundir import RunDir, write_run_toml

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
preset = "demo"

[presets.demo]
max_train_steps = 60
"""
# Every field a reader of events uses, and one it does not know.
FIELDS = (
    "run_id", "friend", "backend", "device", "preset", "images", "max_steps", "step", "loss", "avg_loss", "lr",
    "lr_te", "it_s", "eta_s", "path", "prompt", "weight", "message", "hint", "log_tail", "status", "lora_path",
    "state", "pid", "detail", "extra",
)  # fmt: skip
run_numbers = itertools.count()

surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | surrogates
    | st.sampled_from(["completed", "stopped", "failed", "started", "crashed", "", "\0"])
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6
)
events = st.fixed_dictionaries(
    {"t": values | st.floats(min_value=0, max_value=2e9), "type": st.sampled_from([*REQUIRED_FIELDS, "bogus"]) | values},
    optional=dict.fromkeys(FIELDS, values),
)


def encoded(event: dict) -> bytes:
    return json.dumps(event, allow_nan=True).encode()


lines = (
    events.map(encoded)
    | st.tuples(events.map(encoded), st.integers(min_value=0, max_value=200)).map(lambda pair: pair[0][: pair[1]])
    | st.binary(max_size=40)
    | st.sampled_from([b'{"t":1e400,"type":"warning","message":"x"}', b"[" * 5000 + b"]" * 5000, b"\xff\xfe{}", b"\x00" * 8])
    | values.map(lambda value: json.dumps(value, allow_nan=True).encode())
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(lines, max_size=8), st.booleans())
def test_runs_and_logs_never_raise_on_any_event_lines(capsys, event_lines, trailing_newline):
    with tempfile.TemporaryDirectory() as folder:
        registry = Path(folder) / "registry.toml"
        registry.write_text(REGISTRY)
        run = RunDir(Path(folder) / "logs" / "ada" / f"20260101-000000-ada-{next(run_numbers) % 0x10000:04x}")
        run.path.mkdir(parents=True)
        write_run_toml(run, {"run_id": run.run_id, "friend": "ada", "backend": "builtin", "created_at": 0}, {})
        run.events.write_bytes(b"\n".join(event_lines) + (b"\n" if trailing_newline else b""))
        capsys.readouterr()
        assert main(["--registry", str(registry), "runs", "--json"]) == 0
        (listed,) = json.loads(capsys.readouterr().out)
        assert listed["run_id"] == run.run_id and isinstance(listed["bad_lines"], int)
        assert main(["--registry", str(registry), "logs", run.run_id]) == 0
        assert main(["--registry", str(registry), "runs"]) == 0
        capsys.readouterr()
