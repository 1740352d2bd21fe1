"""The evaluation plan survives its run.toml table, tokenizer places included."""

from __future__ import annotations

from pathlib import Path

from qbtui.likeness.plan import EvalPlan, LoraFile


def test_the_plan_round_trips_with_its_tokenizer_places(tmp_path: Path) -> None:
    plan = EvalPlan(
        run_id="r1",
        run_dir=tmp_path / "run",
        friend_id="ada",
        token="qb_ada",
        loras=[LoraFile("final", 40, tmp_path / "qb_ada_lora.safetensors")],
        weights=[0.6, 0.8],
        identity_prompts=["a photo of qb_ada person"],
        style_prompt="qb_ada person, watercolor",
        reference_dir=tmp_path / "ada",
        base_model=tmp_path / "v1-5.safetensors",
        tokenizer_cache_dir=tmp_path / "kohya-tok",
        comfyui_dir=tmp_path / "ComfyUI",
    )
    loaded = EvalPlan.from_table(plan.to_table())
    assert loaded == plan
    assert loaded.tokenizer_options() == {
        "tokenizer_dir": None,
        "tokenizer_cache_dir": tmp_path / "kohya-tok",
        "comfyui_dir": tmp_path / "ComfyUI",
    }
