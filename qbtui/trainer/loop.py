"""The training loop: SD1.5 objective (the base model's DDPM schedule, epsilon, MSE), LoRA updates, events, checkpoints, stop and resume.

`train()` runs one run directory's config to the end, to a requested stop (state saved,
LoRA written, `done` "stopped"; a stop asked while drawing samples or scoring likeness abandons
the rest of them and stops at the step whose training finished) or to a failure (`error` with a hint, `done` "failed").
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import random
import secrets
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from qbtui.atomicfile import NoSpaceError
from qbtui.errors import QbtuiError
from qbtui.events import EventWriter
from qbtui.rundir import RunDir
from qbtui.trainer.attention import use_sdpa
from qbtui.trainer.config import TrainConfig
from qbtui.trainer.data import TrainingData, find_images
from qbtui.trainer.devices import (
    encode_memory_format,
    pick_device,
    resolve_precision,
    torch_capabilities,
    weight_dtype,
)
from qbtui.trainer.diskfull import disk_full_error
from qbtui.trainer.inputcache import EmbeddingKey, InputCache, LatentKey, component_sha256
from qbtui.trainer.lora import LoRANetwork
from qbtui.trainer.metadata import RunFacts, lora_metadata, save_lora
from qbtui.trainer.parallel import Ranks, SilentEvents, launch_rank
from qbtui.trainer.state import (
    TrainingState,
    capture_rng,
    load_state,
    restore_rng,
    resume_settings,
    save_state,
)
from qbtui.trainer.stopflag import StopRequested
from qbtui.trainer.watch import start_watch

NAN_HINT = "switch mixed_precision from fp16 to no (the guide's fix)"
OOM_HINT = "keep train_batch_size 1 and resolution 512,512, turn on gradient_checkpointing and cache_latents"


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite at `step`."""

    def __init__(self, step: int):
        super().__init__(f"the loss became NaN or infinite at step {step}")
        self.step = step


@dataclass(frozen=True)
class Outcome:
    status: str  # "completed" | "stopped"
    lora_path: Path
    step: int


def state_dir_for(config: TrainConfig, run_dir: Path) -> Path:
    return config.state_dir or RunDir(run_dir).state_dir


def checkpoint_name(output_name: str, step: int) -> str:
    """kohya's per-step file name: `qb_peter_lora-step00000400.safetensors`."""
    return f"{output_name}-step{step:08d}.safetensors"


@dataclass(frozen=True)
class Reading:
    step: int
    loss: float
    average: float
    rates: list[float]  # learning rates of the step: UNet, then text encoder when trained


class LossTracker:
    """Losses kept as device tensors and read in batches, so logging never forces a sync per step.

    The average is kohya's `avr_loss`: cumulative over the first epoch, then a moving
    mean over one epoch's worth of steps.
    """

    def __init__(self, window: int, read_every: int):
        self.read_every = read_every
        self.pending: list[tuple[int, torch.Tensor, list[float]]] = []
        self.recent: deque[float] = deque(maxlen=max(1, window))

    def add(self, step: int, loss: torch.Tensor, rates: list[float]) -> list[Reading]:
        """Keep this step's loss and learning rates; every `read_every` steps return them read at once."""
        self.pending.append((step, loss.detach(), rates))
        return self.read() if len(self.pending) >= self.read_every else []

    def read(self) -> list[Reading]:
        """Read every pending loss (one device sync); raise NonFiniteLoss on NaN or inf."""
        if not self.pending:
            return []
        values = torch.stack([loss for _, loss, _ in self.pending]).float().cpu().tolist()
        pending, self.pending = self.pending, []
        readings = []
        for (step, _, rates), value in zip(pending, values, strict=True):
            if not math.isfinite(value):
                raise NonFiniteLoss(step)
            self.recent.append(value)
            readings.append(Reading(step, value, sum(self.recent) / len(self.recent), rates))
        return readings


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    events: EventWriter | None = None,
) -> Outcome:
    """Run the config; `should_stop()` is asked after every step and while sampling. Errors are reported as events and re-raised."""
    owns_events = events is None
    if events is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        writer = EventWriter if launch_rank() == 0 else SilentEvents  # only rank 0 writes
        events = writer(RunDir(run_dir).events)
    try:
        return _Trainer(config, run_dir, events).run(resume=resume, should_stop=should_stop)
    except NonFiniteLoss as error:
        events.write("error", message=f"{error}; stopped, earlier checkpoints are kept", hint=NAN_HINT)
        events.write("done", status="failed", lora_path=None)
        raise QbtuiError(str(error), fix=NAN_HINT) from None
    except QbtuiError as error:
        events.write("error", message=error.describe().splitlines()[0], hint=error.fix or "")
        events.write("done", status="failed", lora_path=None)
        raise
    except NoSpaceError as error:
        full = disk_full_error(error, config.run_id)
        events.write("error", message=full.message, hint=full.fix or "")
        events.write("done", status="failed", lora_path=None)
        raise full from None
    except torch.OutOfMemoryError as error:
        events.write("error", message=f"out of memory: {str(error).splitlines()[0]}", hint=OOM_HINT)
        events.write("done", status="failed", lora_path=None)
        raise QbtuiError("out of memory", fix=OOM_HINT) from None
    except Exception as error:
        events.write("error", message=f"{type(error).__name__}: {error}", hint="see output.log for the traceback")
        events.write("done", status="failed", lora_path=None)
        raise
    finally:
        if owns_events:
            events.close()


class _Trainer:
    """One session of a run: the models, the data, the optimizer and the step loop."""

    def __init__(self, config: TrainConfig, run_dir: Path, events: EventWriter):
        self.config = config
        self.run_dir = run_dir
        self.events = events

    def run(self, *, resume: bool, should_stop: Callable[[], bool]) -> Outcome:
        config = self.config
        self.should_stop = should_stop
        seed_everything(config.seed)
        self._set_up()
        start_step = 0
        if resume:
            start_step = self._restore(load_state(state_dir_for(config, self.run_dir), config, processes=self.ranks.count))
        self.events.write(
            "start",
            run_id=config.run_id,
            friend=config.friend_id,
            backend="builtin",
            max_steps=config.max_train_steps,
            device=self.device,
            mixed_precision=self.precision.precision,
            precision_reason=self.precision.reason,
            attention=self.attention,
            processes=self.ranks.count,
            batch_per_device=config.train_batch_size,
            effective_batch=self.effective_batch,
            images=len(self.data.images),
            train_images=self.data.num_train_images,
            preset=config.preset,
            step=start_step,
            cache=self.cache_note,
        )
        step = start_step
        started = time.perf_counter()
        stopped_early = None
        while step < config.max_train_steps:
            rates = self.lr_scheduler.get_last_lr()
            loss = self._train_step(step)
            step += 1
            for reading in self.losses.add(step, loss, rates):
                self._log_step(reading, start_step, started)
            if config.save_every_n_steps and step % config.save_every_n_steps == 0:
                self._flush_losses(start_step, started)
                checkpoint = self._write_lora(checkpoint_name(config.output_name, step), step, event=True)
                self._save_state(step)
                if step < config.max_train_steps:  # the final step is scored as the final file
                    with contextlib.suppress(StopRequested):  # abandoned: the stop below saves this step
                        self._score(step, str(step), checkpoint.name, start_step, started)
                    stopped_early = self._stop_early(step)
                    if stopped_early is not None:
                        break
            if config.sample_every_n_steps and step % config.sample_every_n_steps == 0 and step < config.max_train_steps:
                self._sample(step)
            stop = self.ranks.anyone(should_stop(), self.accelerator.device)  # every rank stops at the same step
            if stop and step < config.max_train_steps:
                self._flush_losses(start_step, started)
                return self._stop(step)
        self._flush_losses(start_step, started)
        final = self._write_lora(f"{config.output_name}.safetensors", step, event=False)
        # `done` first: the supervisor records the LoRA now, the choice of the earlier checkpoints with it;
        # the final file's scoring (which may replace that choice) and the last samples follow.
        self.events.write("done", status="completed", lora_path=str(final), message=stopped_early)
        self._choose(step, final, start_step, started)
        self._sample(step)
        return Outcome("completed", final, step)

    # --- set-up ---------------------------------------------------------------------------

    def _set_up(self) -> None:
        from accelerate import Accelerator
        from diffusers.optimization import get_scheduler

        from qbtui.trainer.models import load_base_model

        config = self.config
        requested_device = pick_device(config.device)
        self.precision = resolve_precision(requested_device, config.mixed_precision, torch_capabilities(requested_device))
        precision = self.precision.precision
        if self.precision.changed:
            self.events.write("warning", message=self.precision.reason)
        for flag in config.unsupported_flags():  # the runs layer puts these in the events when it creates the run
            print(f"note: the builtin trainer ignores {flag} (a kohya flag it does not implement)", file=sys.stderr)
        self.accelerator = Accelerator(mixed_precision=precision, cpu=requested_device == "cpu")
        self.device = self.accelerator.device.type
        self.ranks = Ranks(self.accelerator.process_index, self.accelerator.num_processes)
        self.effective_batch = config.train_batch_size * self.ranks.count
        if self.ranks.count != config.num_processes:
            self.events.write(
                "warning",
                message=f"run.toml asks for {config.num_processes} process(es) but {self.ranks.count} were launched; "
                f"training with {self.ranks.count} (effective batch {self.effective_batch})",
            )
        self.data = TrainingData(find_images(config.train_data_dir, config.caption_extension), config.size, config.seed)
        dtype = weight_dtype(precision)
        self.base = load_base_model(
            config.pretrained_model_name_or_path, **config.tokenizer_options(), device=self.accelerator.device, dtype=dtype
        )
        unet, text_encoder, vae = self.base.unet, self.base.text_encoder, self.base.vae
        self.attention = use_sdpa(unet)
        for model in (unet, text_encoder, vae):
            model.requires_grad_(False)
        vae.eval()
        self.train_text_encoder = not config.network_train_unet_only
        self.network = LoRANetwork(
            unet, text_encoder if self.train_text_encoder else None, config.network_dim, config.network_alpha
        )
        self.network.apply_to()
        self.network.to(self.accelerator.device)
        self.ranks.same_start(self.network.parameters())
        unet.train()
        text_encoder.train(self.train_text_encoder)
        if config.gradient_checkpointing:
            unet.enable_gradient_checkpointing()
            if self.train_text_encoder:
                # transformers 5 renamed it; 4.x only has the old name.
                enable = (
                    getattr(text_encoder, "activation_checkpointing_enable", None) or text_encoder.gradient_checkpointing_enable
                )
                enable()
        self.noise_scheduler = self.base.noise_scheduler
        self.noise_generator = torch.Generator().manual_seed(config.seed)
        self.cache_note = self._cache_inputs()
        self.watch = start_watch(config, self.run_dir, self.events) if self.ranks.main else None
        self._release_cached_models()
        optimizer = torch.optim.AdamW(self.network.param_groups(config.learning_rate, config.effective_text_encoder_lr))
        lr_scheduler = get_scheduler(
            config.lr_scheduler,
            optimizer,
            num_warmup_steps=config.lr_warmup_steps,
            num_training_steps=config.max_train_steps,
        )
        self.optimizer, self.lr_scheduler = self.accelerator.prepare(optimizer, lr_scheduler)
        steps_per_epoch = -(-self.data.num_train_images // self.effective_batch)
        read_every = 1 if self.device == "cpu" else 10
        self.losses = LossTracker(window=steps_per_epoch, read_every=read_every)
        self.facts = RunFacts(
            num_train_images=self.data.num_train_images,
            tag_frequency=self.data.tag_frequency(),
            dataset_dirs=self.data.dataset_dirs(),
            base_model_name=self.base.name,
            base_model_hash=self.base.model_hash,
            base_model_sha256=self.base.sha256(),
            started_at=time.time(),
            session_id=secrets.randbelow(2**31),
            mixed_precision=precision,
            processes=self.ranks.count,
        )

    def _cache_inputs(self) -> str:
        """Every photo's VAE posterior (and, when frozen, the text encoder's outputs) from the disk cache,
        encoding only what is not there; returns what it did, e.g. "latents: 24 cached, 0 encoded"."""
        base, (width, height) = self.base, self.config.size
        vae_hash, vae_dtype = component_sha256(base.path, "vae"), str(base.vae.dtype).removeprefix("torch.")
        latents = InputCache()
        base.vae.to(memory_format=encode_memory_format(self.device))
        started = time.perf_counter()
        self.data.encode_posteriors(
            self._encode_posteriors, lambda photo: LatentKey(photo, vae_hash, width, height, vae_dtype), latents
        )
        encoded = len(self.data.images) - latents.hits
        took = f" in {time.perf_counter() - started:.1f} s" if encoded else ""
        if self.config.cache_latents:
            with torch.no_grad():
                self.data.cache_latents(self._sample_latents)
        notes = [f"latents: {latents.hits} cached, {encoded} encoded{took}"]
        rejected = latents.rejected
        if not self.train_text_encoder:
            text_hash = component_sha256(base.path, "text_encoder")
            text_dtype = str(base.text_encoder.dtype).removeprefix("torch.")
            precision = str(self.accelerator.mixed_precision)
            embeddings = InputCache()
            self.data.cache_embeddings(
                self._tokenize,
                self._encode_tokens,
                lambda tokens: EmbeddingKey(tokens, text_hash, text_dtype, precision),
                embeddings,
            )
            captions = len({image.caption for image in self.data.images})
            notes.append(f"captions: {embeddings.hits} cached, {captions - embeddings.hits} encoded")
            rejected += embeddings.rejected
        if rejected:
            notes.append(f"{rejected} unreadable cache entries recomputed")
        note = "; ".join(notes)
        print(f"note: {note}", file=sys.stderr)
        return note

    def _release_cached_models(self) -> None:
        """Free the VAE (its posteriors are cached) and a frozen text encoder once no samples need them."""
        if self.config.sample_prompts or self.watch is not None:
            return
        self.base.vae = None
        if not self.train_text_encoder:
            self.base.text_encoder = None
        gc.collect()

    def _restore(self, state: TrainingState) -> int:
        self.network.load_state_dict(state.network)
        self.optimizer.load_state_dict(state.optimizer)
        self.lr_scheduler.load_state_dict(state.lr_scheduler)
        if state.scaler is not None and self.accelerator.scaler is not None:
            self.accelerator.scaler.load_state_dict(state.scaler)
        self.noise_generator.set_state(state.noise_generator)
        restore_rng(state.rng)
        self.facts = dataclasses.replace(self.facts, started_at=state.started_at, session_id=state.session_id)
        self.losses.recent.extend(state.recent_losses)
        return state.step

    # --- one step --------------------------------------------------------------------------

    def _encode_posteriors(self, pixels: torch.Tensor) -> torch.Tensor:
        """The VAE's posterior moments (mean and log-variance, 2C channels) of a pixel batch, in float32."""
        vae, layout = self.base.vae, encode_memory_format(self.device)  # the VAE is in `layout` (`_cache_inputs`)
        with torch.inference_mode():
            pixels = pixels.to(self.accelerator.device, vae.dtype).contiguous(memory_format=layout)
            moments = vae.encode(pixels).latent_dist.parameters.float()
        return moments.clone(memory_format=torch.contiguous_format)  # outside inference mode: an ordinary tensor

    def _sample_latents(self, moments: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A scaled latent drawn from the posterior moments, as `latent_dist.sample` draws it."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        posterior = DiagonalGaussianDistribution(moments.to(self.accelerator.device))
        return posterior.sample(generator=generator).float() * self.base.vae_scale_factor

    def _sample_my_rows(self, moments: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Latents of this rank's rows, their posterior noise drawn for the whole global batch and sliced."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        posterior = DiagonalGaussianDistribution(moments.to(self.accelerator.device))
        shape = (self.effective_batch, *posterior.mean.shape[1:])
        noise = torch.randn(shape, generator=generator, dtype=posterior.mean.dtype)[self.rows]
        sample = posterior.mean + posterior.std * noise.to(posterior.mean.device)
        return sample.float() * self.base.vae_scale_factor

    def _tokenize(self, captions: list[str]) -> torch.Tensor:
        tokenizer = self.base.tokenizer
        return tokenizer(
            captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """The frozen text encoder's output for token ids, as an ordinary tensor."""
        with torch.inference_mode(), self.accelerator.autocast():
            hidden = self.base.text_encoder(tokens.to(self.accelerator.device))[0]
        return hidden.clone()

    def _embed(self, captions: list[str]) -> torch.Tensor:
        """The text encoder's output for captions (trained: with gradients)."""
        tokens = self._tokenize(captions).to(self.accelerator.device)
        with self.accelerator.autocast():
            return self.base.text_encoder(tokens)[0]

    def _train_step(self, step: int) -> torch.Tensor:
        device = self.accelerator.device
        rows = self.rows = self.ranks.rows(self.config.train_batch_size)
        indices = self.data.batch_indices(step, self.effective_batch)[rows]
        sample = self._sample_latents if self.ranks.count == 1 else self._sample_my_rows
        with torch.no_grad():
            latents = self.data.latents(indices, sample, self.noise_generator).to(device)
        embeddings = self.data.cached_embeddings(indices)
        if embeddings is None:
            embeddings = self._embed(self.data.captions(indices))
        embeddings = embeddings.to(device)
        # Drawn for the whole global batch on every rank, then sliced: N ranks draw what one process would.
        noise = torch.randn((self.effective_batch, *latents.shape[1:]), generator=self.noise_generator)[rows].to(device)
        timesteps = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (self.effective_batch,), generator=self.noise_generator
        )[rows].to(device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        unet = self.base.unet
        with self.accelerator.autocast():
            prediction = unet(noisy.to(unet.dtype), timesteps, embeddings.to(unet.dtype)).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        self.accelerator.backward(loss)
        loss = self.ranks.average(self.network.parameters(), loss)
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss

    # --- reporting and files ---------------------------------------------------------------

    def _log_step(self, reading: Reading, start_step: int, started: float) -> None:
        step = reading.step
        done = step - start_step
        elapsed = time.perf_counter() - started
        it_s = done / elapsed if elapsed > 0 else None
        eta = (self.config.max_train_steps - step) / it_s if it_s else None
        rates = reading.rates
        self.events.write(
            "step",
            step=step,
            max_steps=self.config.max_train_steps,
            loss=reading.loss,
            avg_loss=reading.average,
            lr=rates[0],
            lr_te=rates[1] if len(rates) > 1 else None,
            it_s=it_s,
            eta_s=eta,
        )

    def _flush_losses(self, start_step: int, started: float) -> None:
        for reading in self.losses.read():
            self._log_step(reading, start_step, started)

    def _write_lora(self, file_name: str, step: int, *, event: bool) -> Path:
        config = self.config
        path = Path(config.output_dir) / file_name
        if not self.ranks.main:
            return path
        metadata = lora_metadata(config, self.facts, steps=step, output_stem=Path(file_name).stem)
        save_lora(path, self.network.kohya_tensors(), metadata)
        if event:
            self.events.write("checkpoint", step=step, path=str(path))
        return path

    def _save_state(self, step: int) -> None:
        """Everything `--resume` needs to continue exactly from `step` (rank 0 writes it for all)."""
        if not self.ranks.main:
            return
        state = TrainingState(
            step=step,
            network=self.network.kohya_tensors(),
            optimizer=self.optimizer.state_dict(),
            lr_scheduler=self.lr_scheduler.state_dict(),
            scaler=self.accelerator.scaler.state_dict() if self.accelerator.scaler is not None else None,
            noise_generator=self.noise_generator.get_state(),
            rng=capture_rng(),
            settings=resume_settings(self.config, processes=self.ranks.count),
            started_at=self.facts.started_at,
            session_id=self.facts.session_id,
            recent_losses=list(self.losses.recent),
        )
        save_state(state_dir_for(self.config, self.run_dir), state)

    def _stop(self, step: int) -> Outcome:
        self._save_state(step)
        path = Path(self.config.output_dir) / checkpoint_name(self.config.output_name, step)
        just_saved = self.config.save_every_n_steps and step % self.config.save_every_n_steps == 0
        if not just_saved:
            self._write_lora(path.name, step, event=True)
        self.events.write("done", status="stopped", lora_path=str(path))
        return Outcome("stopped", path, step)

    def _score(self, step: int, label: str, lora: str, start_step: int, started: float, *, final: bool = False) -> None:
        """Score the LoRA at this checkpoint (rank 0; nothing without a watch). The time per training step
        leaves out the scoring, so the budget compares like with like."""
        watch = self.watch
        if watch is None:
            return
        trained_s = time.perf_counter() - started - watch.spent_s
        step_s = trained_s / (step - start_step) if step > start_step else None
        watch.score(
            self.base, self.network, step=step, label=label, lora=lora, step_s=step_s, final=final, should_stop=self.should_stop
        )

    def _stop_early(self, step: int) -> str | None:
        """`stopped early at step 800: likeness 0.38, no better for 2 checkpoints` when `stop_early` says so (every rank stops)."""
        reason = self.watch.stop_reason() if self.watch is not None and self.config.stop_early else None
        if not self.ranks.anyone(reason is not None, self.accelerator.device):
            return None
        text = f"stopped early at step {step}: {reason or 'the main process decided'}"
        self.events.write("warning", message=text)
        return text

    def _choose(self, step: int, final: Path, start_step: int, started: float) -> None:
        """After `done`: the choice so far stands at once (the earlier checkpoints'), then the final file is
        scored (unless its step was scored as a checkpoint), each cell replacing the choice when it beats it.
        It never fails the finished training."""
        watch = self.watch
        if watch is None:
            return
        try:
            to_score = step not in watch.scored_steps
            watch.stand(pending=len(watch.weights) if to_score else 0)
            if to_score:
                self._score(step, "final", final.name, start_step, started, final=True)
            watch.finish()
        except StopRequested:
            print("likeness scoring of the final file abandoned: a stop was asked", file=sys.stderr)
        except Exception as error:  # noqa: BLE001 - the training is done and recorded; say why there are no scores
            self.events.write("warning", message=f"the likeness scoring failed: {type(error).__name__}: {error}")
            print(f"likeness scoring failed: {error!r}", file=sys.stderr)

    def _sample(self, step: int) -> None:
        config = self.config
        if not config.sample_prompts or not self.ranks.main:
            return
        from qbtui.trainer.sampling import generate_samples, sample_stem

        folder = Path(config.output_dir) / "sample"
        for sample in generate_samples(
            self.base,
            self.network,
            prompts=config.sample_prompts,
            weights=config.sample_weights,
            steps=config.sample_steps,
            size=min(config.size),
            seed=config.seed,
            out_dir=folder,
            stem=sample_stem(config.output_name, step),
            should_stop=self.should_stop,
        ):
            self.events.write("sample", step=step, path=str(sample.path), prompt=sample.prompt, weight=sample.weight)
