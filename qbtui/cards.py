"""AUTOMATIC1111 cards beside each LoRA: `<stem>.json` (Extra Networks user metadata) and `<stem>.png`,
and the same picture as `modelspec.thumbnail` in the LoRA's own header (SwarmUI, ComfyUI).

A1111's Lora tab reads `<stem>.json` for a card's `activation text`, `preferred weight`,
`sd version`, `description` and `notes`, and shows `<stem>.png` (first of its names) as its
picture, as do SwarmUI, ComfyUI-LoRA-Manager and InvokeAI's import; its own editor rewrites
the JSON with every key it knows and keeps any other. So
qbtui updates only the keys it owns, and remembers what it last wrote under the hidden key
`qbtui`: a value that differs from that memory was edited by the person and is kept. A preview
carries the PNG text chunk `qbtui-preview`; a picture without it (under any name a UI shows)
is the person's and is never replaced (nor is a second one added beside it).

`RunCards` is what the supervisor calls while a run goes (each new checkpoint) and when it
records the finished training; `refresh_cards` is `qbtui cards [NAME]` for LoRAs trained before.
"""

from __future__ import annotations

import io
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbtui.atomicfile import write_bytes_atomic, write_text_atomic
from qbtui.choice import chosen_sample, chosen_weight, evaluation_sample, is_chosen_file, likeness_score
from qbtui.errors import QbtuiError
from qbtui.events import EventFollower, read_events
from qbtui.lora_header import STILL_WRITING
from qbtui.registry import Friend, Registry, Settings, Training
from qbtui.rundir import RunDir, read_run_toml
from qbtui.safefile import is_regular_file, open_regular, read_bytes, read_text

SD_VERSION = "SD1"
MEMORY_KEY = "qbtui"
PREVIEW_MARKER = "qbtui-preview"
PARAMETERS = "parameters"  # A1111's PNG text chunk
PREVIEW_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif")
# Further picture names: SwarmUI's `.thumb.*`, LoRA Manager's videos and example image.
OTHER_PICTURE_SUFFIXES = (".thumb.jpg", ".thumb.png", ".mp4", ".preview.mp4", ".webm", ".example.0.jpeg")
PREVIEW_SUFFIX = ".png"
OLD_PREVIEW_SUFFIX = ".preview.png"  # qbtui's picture name before `<stem>.png`
CHECKPOINT_STEP = re.compile(r"-step(?P<step>\d{8})$")
KOHYA_SAMPLE_STEP = re.compile(r"_(?:e)?(?P<step>\d{6})_\d+_")
POLL_EVERY_S = 1.0
QUIET_SKIPS = ("no sample to show", STILL_WRITING)  # a run's card writer says nothing of these: the next pass does them


@dataclass(frozen=True)
class CardOutcome:
    """What happened to one sidecar file: `written`, `unchanged`, `kept` (the person's) or `skipped`."""

    path: Path
    action: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.path}: {self.action}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class CardFacts:
    """What a card says about one LoRA file."""

    friend: Friend
    weight: float
    date: str
    steps: int
    images: int
    run_id: str
    likeness: float | None = None
    checkpoint: bool = False


def card_path(lora_path: Path) -> Path:
    """`qb_peter_lora.json` beside `qb_peter_lora.safetensors`."""
    return lora_path.with_name(lora_path.stem + ".json")


def preview_path(lora_path: Path) -> Path:
    """`qb_peter_lora.png` beside the LoRA: the one name A1111/Forge, SwarmUI, LoRA Manager and InvokeAI all find."""
    return lora_path.with_name(lora_path.stem + PREVIEW_SUFFIX)


def activation_text(friend: Friend) -> str:
    """The phrase that calls the friend up: `qb_peter person` (`Friend.trigger_phrase`)."""
    return friend.trigger_phrase


def card_values(facts: CardFacts) -> dict[str, Any]:
    """The keys qbtui owns, as A1111 stores them."""
    what = f"checkpoint at step {facts.steps}" if facts.checkpoint else f"{facts.steps} steps"
    description = f"{facts.friend.name}, trained {facts.date}: {what} on {facts.images} photos"
    if facts.likeness is not None:
        description += f", likeness {facts.likeness:.2f}"
    return {
        "activation text": activation_text(facts.friend),
        "preferred weight": facts.weight,
        "sd version": SD_VERSION,
        "description": description,
        "notes": facts.run_id,
    }


def _read_card(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(read_text(path))
    except OSError as error:
        raise QbtuiError(
            f"cannot read the card: {error.strerror}; left as it is", path=path, fix="replace it with a file, or delete it"
        ) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise QbtuiError(
            f"the card is not valid JSON ({error}); left as it is", path=path, fix="repair it, or delete it to let qbtui write it"
        ) from None
    if not isinstance(data, dict):
        raise QbtuiError("the card is not a JSON object; left as it is", path=path, fix="delete it to let qbtui write it")
    return data


def _same(left: Any, right: Any) -> bool:
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers) and not isinstance(left, bool) and not isinstance(right, bool):
        return math.isclose(float(left), float(right), abs_tol=1e-9)
    return left == right


def _is_unset(value: Any) -> bool:
    """An empty text A1111's editor saves for a field the person never filled."""
    return isinstance(value, str) and not value.strip()


def update_card(lora_path: Path, values: dict[str, Any]) -> CardOutcome:
    """Write `values` into the card beside `lora_path`, keeping the person's edits and every other key."""
    path = card_path(lora_path)
    if path.is_symlink():
        return CardOutcome(path, "skipped", "a symlink; left as it is")
    existing = _read_card(path)
    memory = existing.get(MEMORY_KEY)
    written = dict(memory.get("written", {})) if isinstance(memory, dict) and isinstance(memory.get("written"), dict) else {}
    card = dict(existing)
    kept = []
    for key, value in values.items():
        if key in existing and not _is_unset(existing[key]) and not (key in written and _same(existing[key], written[key])):
            kept.append(key)
            continue
        card[key] = value
        written[key] = value
    card[MEMORY_KEY] = {"written": written, "note": "what qbtui last wrote; a value you change is kept"}
    detail = f"kept your {', '.join(kept)}" if kept else ""
    if card == existing:
        return CardOutcome(path, "unchanged", detail)
    write_text_atomic(path, json.dumps(card, indent=4, ensure_ascii=False))
    return CardOutcome(path, "written", detail)


def _is_ours(path: Path) -> bool:
    from PIL import Image

    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            return PREVIEW_MARKER in getattr(image, "text", {})
    except (OSError, ValueError, SyntaxError):
        return False


def picture_names(stem: str) -> list[str]:
    """Every name beside a LoRA that one of the UIs shows as its picture (A1111/Forge, SwarmUI, LoRA Manager, InvokeAI)."""
    names = [f"{stem}{suffix}" for extension in PREVIEW_EXTENSIONS for suffix in (f".{extension}", f".preview.{extension}")]
    return names + [f"{stem}{suffix}" for suffix in OTHER_PICTURE_SUFFIXES]


def persons_preview(lora_path: Path) -> Path | None:
    """A picture some UI would show that qbtui did not write, if there is one."""
    for name in picture_names(lora_path.stem):
        candidate = lora_path.with_name(name)
        if candidate.is_symlink() or (candidate.exists() and not _is_ours(candidate)):
            return candidate
    return None


def _drop_old_preview(lora_path: Path) -> None:
    """Remove qbtui's own `<stem>.preview.png` of earlier versions: LoRA Manager would show it before `<stem>.png`."""
    old = lora_path.with_name(lora_path.stem + OLD_PREVIEW_SUFFIX)
    if old.is_file() and not old.is_symlink() and _is_ours(old):
        old.unlink()


def update_preview(lora_path: Path, sample: Path | None, run_id: str, weight: float = 1.0) -> CardOutcome:
    """Copy `sample` to `<stem>.png` with the marker chunk, unless the person has a picture there (any UI's name).

    Its `parameters` text names the LoRA (`preview_text`), so A1111's "Send to txt2img" draws with it.
    """
    from PIL import Image, PngImagePlugin

    target = preview_path(lora_path)
    theirs = persons_preview(lora_path)
    if theirs is not None:
        _drop_old_preview(lora_path)
        return CardOutcome(target, "kept", f"your picture {theirs.name} stays")
    if sample is None or not sample.is_file():
        return CardOutcome(target, "skipped", "no sample to show")
    try:
        with open_regular(sample) as handle, Image.open(handle) as image:
            image.load()
            info = PngImagePlugin.PngInfo()
            for key, value in getattr(image, "text", {}).items():
                if key != PREVIEW_MARKER:
                    info.add_text(key, preview_text(lora_path, value, weight) if key == PARAMETERS else value)
            info.add_text(PREVIEW_MARKER, f"{run_id} {sample.name}")
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", pnginfo=info)
    except (OSError, ValueError, SyntaxError) as error:
        return CardOutcome(target, "skipped", f"cannot read the sample {sample}: {error}")
    data = buffer.getvalue()
    _drop_old_preview(lora_path)
    if is_regular_file(target) and read_bytes(target) == data:
        return CardOutcome(target, "unchanged")
    write_bytes_atomic(target, data)
    return CardOutcome(target, "written", f"from {sample.name}")


def preview_text(lora_path: Path, parameters: str, weight: float) -> str:
    """A sample's A1111 `parameters` with the `<lora:stem:w>` tag and `Lora hashes` of the file it stands for."""
    from qbtui.draw.parameters import lora_short_hash, with_lora

    try:
        digest = lora_short_hash(lora_path) if lora_path.is_file() else None
    except OSError:
        digest = None  # not a whole safetensors file: the text names the LoRA without its hash
    return with_lora(parameters, lora_path.stem, weight, digest)


def update_thumbnail(lora_path: Path, sample: Path | None) -> CardOutcome:
    """The sample as a 256 px JPEG `modelspec.thumbnail` in the LoRA's header (SwarmUI's and ComfyUI's card picture).

    Only the header is rewritten: the tensor bytes, and so A1111's LoRA hash, stay the same.
    """
    from qbtui.lora_header import THUMBNAIL_KEY, set_metadata, thumbnail_uri

    if sample is None or not sample.is_file():
        return CardOutcome(lora_path, "skipped", "no sample to show")
    try:
        changed = set_metadata(lora_path, {THUMBNAIL_KEY: thumbnail_uri(sample)})
    except QbtuiError as error:
        return CardOutcome(lora_path, "skipped", error.message)
    except (OSError, ValueError) as error:
        return CardOutcome(lora_path, "skipped", f"cannot rewrite its header: {error}")
    return CardOutcome(lora_path, "written" if changed else "unchanged", f"{THUMBNAIL_KEY} from {sample.name}" if changed else "")


def update_lora_manager_card(lora_path: Path, facts: CardFacts) -> CardOutcome:
    """ComfyUI-LoRA-Manager's `<stem>.metadata.json` with the trigger phrase and weight, created once, never rewritten."""
    from qbtui.lora_manager_sidecar import create_sidecar, sidecar_path, sidecar_values

    path = sidecar_path(lora_path)
    if not lora_path.is_file():
        return CardOutcome(path, "skipped", "no LoRA file")
    picture = persons_preview(lora_path) or preview_path(lora_path)
    values = card_values(facts)
    sidecar = sidecar_values(
        lora_path,
        trigger=values["activation text"],
        weight=facts.weight,
        description=values["description"],
        notes=facts.run_id,
        picture=picture,
    )
    try:
        created = create_sidecar(path, sidecar)
    except OSError as error:
        return CardOutcome(path, "skipped", f"cannot write it: {error}")
    return CardOutcome(path, "written") if created else CardOutcome(path, "kept", "LoRA Manager's own from now on")


# ------------------------------------------------------------------ samples of a run


@dataclass(frozen=True)
class SampleImage:
    step: int
    weight: float | None
    path: Path


def run_samples(run: RunDir, table: dict[str, Any]) -> list[SampleImage]:
    """The run's samples: its `sample` events, or (kohya) `<output_dir>/sample/<name>_*.png` written since it began."""
    found = (
        [
            SampleImage(int(event.get("step") or 0), event.get("weight"), Path(event["path"]))
            for event in read_events(run.events)
            if event["type"] == "sample"
        ]
        if run.events.exists()
        else []
    )
    if found or table.get("backend") != "kohya":
        return found
    folder = Path(str(table.get("output_dir", ""))) / "sample"
    since = float(table.get("created_at", 0))
    for path in sorted(folder.glob(f"{table.get('output_name', '')}_*.png")) if folder.is_dir() else []:
        if path.stat().st_mtime >= since:
            step = KOHYA_SAMPLE_STEP.search(path.name)
            found.append(SampleImage(int(step.group("step")) if step else 0, None, path))
    return found


def pick_sample(samples: list[SampleImage], weight: float, step: int | None = None) -> Path | None:
    """The sample of the last step (or of `step`) whose weight is nearest `weight`."""
    candidates = [sample for sample in samples if sample.path.is_file() and (step is None or sample.step == step)]
    if not candidates:
        return None
    last = max(sample.step for sample in candidates)
    at_last = [sample for sample in candidates if sample.step == last]
    return min(at_last, key=lambda sample: abs((sample.weight if sample.weight is not None else weight) - weight)).path


# ------------------------------------------------------------------ writing a run's cards


def _checkpoint_step(lora_path: Path) -> int | None:
    match = CHECKPOINT_STEP.search(lora_path.stem)
    return int(match.group("step")) if match else None


def _run_training(friend: Friend, run_id: str) -> Training | None:
    return next((training for training in friend.trainings if run_id and training.run_id == run_id), None)


def write_cards(
    registry: Registry,
    friend: Friend,
    lora_path: Path,
    *,
    training: Training | None,
    run_id: str,
    steps: int,
    images: int,
    date: str,
    samples: list[SampleImage],
) -> list[CardOutcome]:
    """The card and preview of one LoRA file (a final LoRA, or a checkpoint when its name says `-stepNNNNNNNN`)."""
    settings = registry.settings
    checkpoint_step = _checkpoint_step(lora_path)
    weight = chosen_weight(training, settings)
    facts = CardFacts(
        friend=friend,
        weight=weight,
        date=date,
        steps=checkpoint_step or steps,
        images=images,
        run_id=run_id,
        likeness=None if checkpoint_step else likeness_score(training),
        checkpoint=checkpoint_step is not None,
    )
    outcomes = [update_card(lora_path, card_values(facts))]
    sample = standing_sample(friend, lora_path, training, settings, samples, weight)
    outcomes.append(update_preview(lora_path, sample, run_id, weight))
    outcomes.append(update_thumbnail(lora_path, sample))
    outcomes.append(update_lora_manager_card(lora_path, facts))
    return outcomes


def standing_sample(
    friend: Friend, lora_path: Path, training: Training | None, settings: Settings, samples: list[SampleImage], weight: float
) -> Path | None:
    """The picture for one LoRA file: the chosen sample for the chosen file (a checkpoint too), else the
    training's sample of its step nearest `weight`, else the evaluation's sample of that file."""
    if is_chosen_file(training, lora_path):
        chosen = chosen_sample(friend, training, settings)
        if chosen is not None and chosen.is_file():
            return chosen
    picked = pick_sample(samples, weight, _checkpoint_step(lora_path))
    if picked is not None:
        return picked
    drawn = evaluation_sample(friend, training, settings, lora_path.name, weight)
    return drawn if drawn is not None and drawn.is_file() else None


class RunCards:
    """Cards for one run's LoRA files, written by its supervisor; failures become warnings, never a failed run."""

    def __init__(self, run: RunDir, warn: Callable[[str], object]):
        self.run = run
        self.warn = warn
        self.follower = EventFollower(run.events)
        self.done: set[str] = set()
        self.last_poll = 0.0

    def poll(self, *, force: bool = False) -> None:
        """Write the cards of checkpoints saved since the last call (at most once a second unless `force`)."""
        now = time.monotonic()
        if not force and now - self.last_poll < POLL_EVERY_S:
            return
        self.last_poll = now
        try:
            fresh = [Path(event["path"]) for event in self.follower.read_new() if event["type"] == "checkpoint"]
        except Exception as error:  # noqa: BLE001 - a card never fails the run
            self.warn(f"the A1111 cards could not follow the run's events: {error}")
            return
        fresh = [path for path in fresh if _checkpoint_step(path) is not None and str(path) not in self.done]
        if fresh:
            self._write(fresh, final_steps=None)

    def finish(self, lora_path: str | None, steps: int) -> None:
        """After the training is recorded: the final LoRA's card, and every checkpoint's again (its samples are all made now)."""
        self.poll(force=True)
        self._write(sorted(Path(path) for path in self.done), final_steps=None)
        if lora_path:
            self._write([Path(lora_path)], final_steps=steps)

    def _write(self, paths: list[Path], *, final_steps: int | None) -> None:
        try:
            table = read_run_toml(self.run)["run"]
            if not table.get("registry"):
                return  # a run on a host: the local follower writes its cards
            registry = Registry.load(table["registry"])
            friend = registry.friend(str(table["friend"]))
            if table.get("backend") == "eval":
                refresh_cards(registry, [friend.id])  # the choice changed: the trained files' cards follow it
                return
            samples = run_samples(self.run, table)
            training = _run_training(friend, self.run.run_id)
            for path in paths:
                self.done.add(str(path))
                outcomes = write_cards(
                    registry,
                    friend,
                    path,
                    training=training,
                    run_id=self.run.run_id,
                    steps=final_steps or _checkpoint_step(path) or 0,
                    images=int(table.get("images", 0)),
                    date=training.date if training else time.strftime("%Y-%m-%d"),
                    samples=samples,
                )
                for outcome in outcomes:
                    if outcome.action == "skipped" and outcome.detail not in QUIET_SKIPS:
                        self.warn(f"A1111 card: {outcome.line()}")
        except Exception as error:  # noqa: BLE001 - a card never fails the run
            self.warn(f"the A1111 card was not written: {error}")


# ------------------------------------------------------------------ `qbtui cards`


def friend_lora_files(settings: Settings, friend: Friend) -> list[Path]:
    """The friend's final LoRA and checkpoints in the LoRA folder, final first."""
    final = settings.lora_dir / f"{friend.output_name}.safetensors"
    checkpoints = sorted(settings.lora_dir.glob(f"{friend.output_name}-step????????.safetensors"))
    return [path for path in (final, *checkpoints) if path.is_file()]


def refresh_cards(registry: Registry, friend_ids: Iterable[str] | None = None) -> list[CardOutcome]:
    """(Re)write the cards of every trained friend's LoRA files from the registry's last training and its run."""
    settings = registry.settings
    friends = [registry.friend(friend_id) for friend_id in friend_ids] if friend_ids else list(registry.friends.values())
    outcomes: list[CardOutcome] = []
    for friend in friends:
        training = friend.last_training
        if training is None:
            continue
        run = RunDir(settings.logs_dir / friend.id / training.run_id) if training.run_id else None
        samples: list[SampleImage] = []
        if run is not None and run.run_toml.is_file():
            try:
                samples = run_samples(run, read_run_toml(run)["run"])
            except QbtuiError:
                samples = []
        for lora in friend_lora_files(settings, friend):
            try:
                outcomes += write_cards(
                    registry,
                    friend,
                    lora,
                    training=training,
                    run_id=training.run_id,
                    steps=training.steps,
                    images=training.images,
                    date=training.date,
                    samples=samples,
                )
            except QbtuiError as error:
                outcomes.append(CardOutcome(card_path(lora), "skipped", error.message))
    return outcomes


def card_of(settings: Settings, training: Training | None) -> Path | None:
    """The card beside a training's LoRA file, when it exists."""
    if training is None or not training.lora_file:
        return None
    path = card_path(settings.lora_dir / training.lora_file)
    return path if path.is_file() else None


def preview_of(settings: Settings, training: Training | None) -> Path | None:
    if training is None or not training.lora_file:
        return None
    path = preview_path(settings.lora_dir / training.lora_file)
    return path if path.is_file() else None
