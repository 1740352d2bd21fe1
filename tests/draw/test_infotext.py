"""PNG Info read back exactly by A1111's rules: quoted values, the schedule type qbtui draws, CPU noise, the card's LoRA tag.

`a1111_parse` follows AUTOMATIC1111/stable-diffusion-webui v1.10.1 `modules/infotext_utils.py`
(`re_param_code`, `unquote`, `parse_generation_parameters`: the last line holds the fields when
the pattern finds three or more; a value that starts and ends with `"` is `json.loads`ed; a
missing `RNG` reads "GPU", a missing `Schedule type` "Automatic"), written here from that
source so the test does not trust qbtui's own parser.
"""

from __future__ import annotations

import contextlib
import json
import re

import pytest

from qbtui.draw.parameters import SCHEDULE_TYPES, Generation, parse_parameters, with_lora

A1111_FIELD = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def a1111_parse(text: str) -> dict[str, str]:
    *lines, last = text.strip().split("\n")
    if len(A1111_FIELD.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = "", "", False
    for raw in lines:
        line = raw.strip()
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[16:].strip()
        if in_negative:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    result = {"Prompt": prompt, "Negative prompt": negative}
    for key, written in A1111_FIELD.findall(last):
        value = written
        if written[:1] == '"' and written[-1:] == '"':
            with contextlib.suppress(ValueError):
                value = json.loads(written)
        size = re.match(r"^(\d+)x(\d+)$", value)
        if size:
            result[f"{key}-1"], result[f"{key}-2"] = size.groups()
        else:
            result[key] = value
    result.setdefault("RNG", "GPU")
    result.setdefault("Schedule type", "Automatic")
    return result


AWKWARD = ["my model, v2", "a: b", 'say "cheese"', '"quoted"', 'x, y: "z"', " padded "]


@pytest.mark.parametrize("model", AWKWARD)
def test_a_model_name_with_commas_colons_or_quotes_reads_back_exactly(model):
    generation = Generation(
        prompt='qb_ada person: at "the" beach, (smiling:1.2)',
        negative_prompt="lowres, blurry",
        steps=30,
        sampler="DPM++ 2M",
        cfg_scale=7.5,
        seed=2**32 - 1,
        width=512,
        height=768,
        model_hash="6ce0161689",
        model=model,
        lora_hashes=(("qb_ada_lora", "078faa19c1df"), ('qb "x", lora', "4e9ee2b4e4fd")),
    )
    fields = a1111_parse(generation.text())
    assert fields["Model"] == model
    assert fields["Prompt"] == 'qb_ada person: at "the" beach, (smiling:1.2)'
    assert fields["Negative prompt"] == "lowres, blurry"
    assert fields["Lora hashes"] == 'qb_ada_lora: 078faa19c1df, qb "x", lora: 4e9ee2b4e4fd'
    assert (fields["Steps"], fields["Sampler"], fields["CFG scale"], fields["Seed"]) == ("30", "DPM++ 2M", "7.5", "4294967295")
    assert (fields["Size-1"], fields["Size-2"], fields["Model hash"]) == ("512", "768", "6ce0161689")
    assert fields["Schedule type"] == "SGM Uniform" and fields["RNG"] == "CPU"
    assert parse_parameters(generation.text())["Model"] == model


def test_every_sampler_names_the_schedule_qbtui_draws_with():
    """A1111's schedules (modules/sd_schedulers.py): Uniform = k-diffusion `get_sigmas(n)`, t = linspace(999, 0, n);
    SGM Uniform = t over linspace(999, 0, n + 1)[:-1]. qbtui's samplers are diffusers' on SD1.5's config (draw/worker.py)."""
    import diffusers
    import numpy as np

    from qbtui.draw.worker import SCHEDULERS
    from qbtui.trainer.models import training_scheduler

    a1111 = {
        "Uniform": lambda n: np.linspace(999, 0, n),
        "SGM Uniform": lambda n: np.linspace(999, 0, n + 1)[:-1],
    }
    config = training_scheduler().config
    for sampler, schedule in SCHEDULE_TYPES.items():
        scheduler = getattr(diffusers, SCHEDULERS[sampler]).from_config(config)
        assert not getattr(scheduler.config, "use_karras_sigmas", False)
        for steps in (8, 20, 30):
            scheduler.set_timesteps(steps)
            assert np.allclose(np.asarray(scheduler.timesteps, dtype=float), a1111[schedule](steps), atol=0.5), (sampler, steps)


def test_the_card_pictures_text_draws_with_the_lora_in_a1111():
    sample = "qb_ada person, portrait\nSteps: 8, Sampler: Euler, CFG scale: 7.0, Seed: 42, Size: 64x64, LoRA weight: 0.8"
    fields = a1111_parse(with_lora(sample, "qb_ada_lora-step00000008", 1.0, "078faa19c1df"))
    assert fields["Prompt"] == "<lora:qb_ada_lora-step00000008:0.8>, qb_ada person, portrait"
    assert fields["Schedule type"] == "Uniform" and fields["RNG"] == "CPU" and "LoRA weight" not in fields
    assert fields["Lora hashes"] == "qb_ada_lora-step00000008: 078faa19c1df"
    assert (fields["Steps"], fields["Sampler"], fields["Seed"], fields["Size-1"]) == ("8", "Euler", "42", "64")
    assert with_lora("made in A1111", "x", 1.0, None) == "made in A1111"
