"""What an evaluation pass samples: the LoRA files, the weights, the prompts and the seeds.

An `EvalPlan` is plain data: the trainer builds one after its last step, `qbtui eval`
builds one for a finished run and stores it in the evaluation run's `run.toml`. Sample
files go to `<training run>/eval/`, the scores to `<training run>/eval.json`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.likeness.scoring import IDENTITY, STYLE
from qbtui.registry import LORA_WEIGHT_FIX, Settings, lora_weight_problem
from qbtui.rundir import RunDir

# One seed for the style prompt: it counts for the face rate only.
STYLE_SEEDS = 1


@dataclass(frozen=True)
class LoraFile:
    """One saved LoRA of a run: a checkpoint (`label` its step) or the final file (`label` "final")."""

    label: str
    step: int
    path: Path


@dataclass(frozen=True)
class SampleSpec:
    """One image to render: prompt, seed, and whether it counts for likeness."""

    prompt: str
    kind: str
    index: int
    seed: int


@dataclass
class EvalPlan:
    """Everything one evaluation pass does, as TOML-friendly values."""

    run_id: str
    run_dir: Path
    friend_id: str
    token: str
    loras: list[LoraFile]
    weights: list[float]
    identity_prompts: list[str]
    style_prompt: str
    reference_dir: Path
    seeds: int = 2
    seed: int = 1000
    steps: int = 12
    size: int = 512
    min_face_rate: float = 0.7
    guidance_scale: float = 7.0
    base_model: Path | None = None
    tokenizer: Path | None = None
    tokenizer_cache_dir: Path | None = None
    comfyui_dir: Path | None = None
    device: str = "auto"
    reused: dict[str, str] = field(default_factory=dict)  # reuse_key -> a training sample of the style prompt

    @property
    def out_dir(self) -> Path:
        return RunDir(self.run_dir).eval_dir

    @property
    def eval_json(self) -> Path:
        return RunDir(self.run_dir).eval_json

    def tokenizer_options(self) -> dict[str, Path | None]:
        """Where the base-model loader looks for a single file's tokenizer (`load_base_model`'s keywords)."""
        return {"tokenizer_dir": self.tokenizer, "tokenizer_cache_dir": self.tokenizer_cache_dir, "comfyui_dir": self.comfyui_dir}

    def sample_specs(self) -> list[SampleSpec]:
        """Identity prompts at `seeds` seeds each, then the style prompt at one."""
        specs = [
            SampleSpec(prompt, IDENTITY, index, self.seed + number)
            for index, prompt in enumerate(self.identity_prompts)
            for number in range(self.seeds)
        ]
        index = len(self.identity_prompts)
        specs += [SampleSpec(self.style_prompt, STYLE, index, self.seed + number) for number in range(STYLE_SEEDS)]
        return specs

    def cells(self) -> list[tuple[LoraFile | None, float]]:
        """The base model at weight 0 first, then every LoRA file at every weight."""
        return [(None, 0.0)] + [(lora, weight) for lora in self.loras for weight in self.weights]

    def image_count(self) -> int:
        return len(self.cells()) * len(self.sample_specs())

    def sample_path(self, lora: LoraFile | None, weight: float, spec: SampleSpec) -> Path:
        return self.out_dir / sample_name("base" if lora is None else lora.label, weight, spec)

    def to_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if item.name == "loras":
                value = [{"label": lora.label, "step": lora.step, "path": str(lora.path)} for lora in value]
            elif isinstance(value, Path):
                value = str(value)
            table[item.name] = value
        return table

    @classmethod
    def from_table(cls, table: dict[str, Any], *, path: Path | None = None) -> EvalPlan:
        """The inverse of `to_table`; QbtuiError naming the file when a key is missing or wrong."""
        values = dict(table)
        try:
            values["loras"] = [LoraFile(str(row["label"]), int(row["step"]), Path(row["path"])) for row in values["loras"]]
            for key in ("run_dir", "reference_dir", "base_model", "tokenizer", "tokenizer_cache_dir", "comfyui_dir"):
                if values.get(key) is not None:
                    values[key] = Path(values[key])
            values["weights"] = [float(weight) for weight in values["weights"]]
            return cls(**values)
        except (KeyError, TypeError, ValueError) as error:
            raise QbtuiError(
                f"the evaluation plan is unusable: {error!r}", path=path, fix="start the evaluation again with `qbtui eval RUN`"
            ) from None


def sample_name(label: str, weight: float, spec: SampleSpec) -> str:
    """An evaluation sample's file name: `800_w0.80_p00_s1000.png` (`base` for the base model)."""
    return f"{label}_w{weight:.2f}_p{spec.index:02d}_s{spec.seed}.png"


def identity_specs(prompts: Sequence[str], *, seeds: int, seed: int) -> list[SampleSpec]:
    """The identity prompts at `seeds` seeds each, seed-major (the first seed of every prompt, then the second):
    a scoring cut to fewer samples keeps every prompt."""
    return [SampleSpec(prompt, IDENTITY, index, seed + number) for number in range(seeds) for index, prompt in enumerate(prompts)]


def identity_prompts(settings: Settings, token: str) -> list[str]:
    """The settings' identity prompts with `{token}` replaced by the friend's trigger token."""
    return [prompt.replace("{token}", token) for prompt in settings.eval_prompts]


def style_prompt(settings: Settings, token: str) -> str:
    """The house-style prompt: `qb_peter person, <style suffix>` (the trainer's sample prompt)."""
    return f"{token} person, {settings.style_suffix}"


def lora_files(checkpoints: Sequence[tuple[int, Path]], final: tuple[int, Path] | None) -> list[LoraFile]:
    """Checkpoints by step, then the final file; a checkpoint at the final file's step is the same weights and is left out."""
    final_step = final[0] if final else None
    files = {step: LoraFile(str(step), step, Path(path)) for step, path in checkpoints if step != final_step}
    ordered = [files[step] for step in sorted(files)]
    if final:
        ordered.append(LoraFile("final", final[0], Path(final[1])))
    return ordered


def check_weights(weights: Sequence[float]) -> list[float]:
    """Sorted, distinct LoRA weights (`lora_weight_problem`'s range); QbtuiError for anything else."""
    cleaned = sorted({round(float(weight), 4) for weight in weights})
    if not cleaned or any(lora_weight_problem(weight) for weight in cleaned):
        raise QbtuiError(f"unusable LoRA weights {list(weights)}", fix=f"{LORA_WEIGHT_FIX}, e.g. --weights 0.6,0.8,1.0")
    return cleaned


def plan_inputs(
    events: Sequence[dict[str, Any]], *, final: tuple[int, Path] | None, style_prompt: str
) -> tuple[list[LoraFile], dict[str, str]]:
    """A run's LoRA files (checkpoint events whose files still exist, then `final`) and the training samples of
    the style prompt the pass can reuse, by the evaluation sample's file name."""
    checkpoints = [
        (int(event["step"]), Path(event["path"]))
        for event in events
        if event["type"] == "checkpoint" and isinstance(event.get("step"), int) and Path(event["path"]).is_file()
    ]
    loras = lora_files(checkpoints, final)
    reused = {}
    for event in events:
        if event["type"] != "sample" or event.get("prompt") != style_prompt or not isinstance(event.get("weight"), (int, float)):
            continue
        for lora in loras:
            if lora.step == event.get("step"):
                reused[reuse_key(lora.label, float(event["weight"]))] = str(event["path"])
    return loras, reused


def reuse_key(label: str, weight: float) -> str:
    """How `EvalPlan.reused` names the style sample of one LoRA file at one weight."""
    return f"{label}@{weight:g}"
