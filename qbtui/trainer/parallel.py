"""Data parallelism for one run over several processes (`torchrun --nproc_per_node N`).

Every process (rank) holds the same LoRA and optimizer. A step's global batch is
`train_batch_size * N` samples, in the order one process with that batch would take them,
and rank r trains on rows `r*b .. (r+1)*b`; its random draws (noise, timesteps) are made for
the whole global batch by every rank alike and sliced, so N processes with batch b follow one
process with batch N*b. One all-reduce per step averages the gradients (and the loss, for the
log); another makes the stop one decision taken by all ranks at the same step. Only rank 0
writes: events, LoRA files, the resumable state and samples.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qbtui.events import Event, EventWriter, make_event


def launch_rank() -> int:
    """This process's rank as its launcher (torchrun, accelerate launch) set it; 0 when run alone."""
    return int(os.environ.get("RANK", "0"))


class SilentEvents(EventWriter):
    """The event writer of ranks other than 0: events are validated, never written."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fd = -1

    def write(self, kind: str, **fields: Any) -> Event:
        return make_event(kind, **fields)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the run's processes."""

    index: int = 0
    count: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes."""
        return self.index == 0

    def rows(self, batch_per_device: int) -> slice:
        """This rank's rows of a global batch of `batch_per_device * count`."""
        return slice(self.index * batch_per_device, (self.index + 1) * batch_per_device)

    def average(self, parameters: Iterable[torch.Tensor], loss: torch.Tensor) -> torch.Tensor:
        """Average the gradients of `parameters` over all ranks in place, and return the mean loss."""
        if self.count == 1:
            return loss
        import torch.distributed as dist

        grads = [p.grad for p in parameters if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1).to(grads[0].dtype)])
        dist.all_reduce(flat)
        flat /= self.count
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()
        return flat[-1]

    def anyone(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when `flag` is true on any: one decision at the same step."""
        if self.count == 1:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(value)
        return bool(value.item() > 0)

    def same_start(self, parameters: Iterable[torch.Tensor]) -> None:
        """Give every rank rank 0's values of `parameters` (they start equal by seed; this makes it certain)."""
        if self.count == 1:
            return
        import torch.distributed as dist

        for parameter in parameters:
            dist.broadcast(parameter.data, src=0)
