"""Data-parallel training under ``torchrun``: process group, model wrapper, batch shards.

``torchrun --nproc_per_node N -m cli.main train ...`` (or the ``csmri`` script)
starts N copies of the same command; each reads ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE`` from its environment.  :func:`session` joins the process group
(gloo on the CPU, NCCL on GPUs) and yields a :class:`Ranks`; without those
variables it yields a world of one and changes nothing.

How the work is split: every rank draws the same global batch of slice indices
(the single-process order) and takes one contiguous shard of it; each example's
random stream is seeded by its position in the *global* batch, so ranks simulate
different examples and their union is exactly the single-process batch.  DDP
averages the per-rank mean gradients, which equals the single-process gradient of
the whole batch (shards are equal in size).  This is what a ``DistributedSampler``
does for a dataset, applied to the existing seeded order: the weights do not depend
on the number of processes (up to floating-point rounding), and a run can resume
on another number of processes.  Rank 0 alone writes checkpoints and logs.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from csmri.errors import UsageError

TIMEOUT = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class Ranks:
    """A process's place in the group (``world == 1``: plain single-process training)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes checkpoints, logs and the summary."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The GPU of this process (``cuda:LOCAL_RANK``) when training on CUDA."""
        if device.type == "cuda" and self.world > 1:
            return torch.device("cuda", self.local_rank)
        return device

    def check_batch(self, batch_size: int) -> None:
        """Refuse a global batch that does not split into equal shards."""
        if batch_size % self.world:
            raise UsageError(
                f"batch size {batch_size} does not split over {self.world} processes; "
                "use a multiple of the number of processes"
            )

    def shard(self, batch: np.ndarray) -> tuple[np.ndarray, int]:
        """The contiguous part of a global batch for this rank, and the position it starts at."""
        size = len(batch) // self.world
        first = self.rank * size
        return batch[first : first + size], first

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``DistributedDataParallel(model)`` in a group, else the model itself."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        on_gpu = next(model.parameters()).device.type == "cuda"
        return DistributedDataParallel(model, device_ids=[self.local_rank] if on_gpu else None)

    def mean(self, value: float, device: torch.device) -> float:
        """The average of ``value`` over the ranks (for logging the global loss)."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(tensor)
        return float(tensor.item()) / self.world

    def from_main(self, value: object) -> object:
        """Rank 0's ``value`` on every rank (validation runs on rank 0 only)."""
        if self.world == 1:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait for every rank (e.g. until rank 0 has written a file)."""
        if self.world > 1:
            torch.distributed.barrier()


def ranks_from_env() -> Ranks:
    """Read ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (set by ``torchrun``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    return Ranks(rank, world, local)


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[Ranks]:
    """Join the process group for the run (if ``torchrun`` started us) and leave it after.

    Parameters
    ----------
    device : torch.device
        Training device: NCCL for CUDA, gloo otherwise.

    Yields
    ------
    Ranks
        This process's rank, the world size and its local rank.
    """
    ranks = ranks_from_env()
    if ranks.world == 1 or torch.distributed.is_initialized():
        yield ranks
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(ranks.local_rank)
    torch.distributed.init_process_group(backend, timeout=TIMEOUT)
    try:
        yield ranks
    finally:
        torch.distributed.destroy_process_group()
