"""This process's place among data-parallel workers, and the KVStore they share."""
from __future__ import annotations

import os

import mxnet as mx

from ..compat import BroadcastFirstTrainer

__all__ = ['Workers', 'SUMS_KEY', 'check_launched']

#: KVStore key of the per-step sums (far above the Trainer's parameter indices)
SUMS_KEY = 10 ** 7


def check_launched(kvstore: str) -> None:
    """Raise ValueError if a ``dist_*`` KVStore is asked for outside the processes
    ``scripts/launch.py`` starts (MXNet would stop in ps-lite with "Check notnull:
    DMLC_NUM_WORKER")."""
    if kvstore.startswith('dist') and 'DMLC_ROLE' not in os.environ:
        raise ValueError('--kvstore %s runs in the processes scripts/launch.py starts '
                         '(python scripts/launch.py -n 2 -s 1 -- python scripts/train_ssd.py '
                         '--kvstore %s ...); alone, drop --kvstore' % (kvstore, kvstore))


class Workers:
    """The workers of a ``dist_*`` KVStore (or this process alone).

    For ``dist_sync`` / ``dist_device_sync`` the Trainer only aggregates gradients on the
    servers (``update_on_kvstore=False``) and every worker runs the same optimizer step on the
    same sum, so their weights stay identical. The positives and loss sums of the *combined*
    batch are summed on the servers too, and every worker divides its loss by that count: the
    update then equals that of one process with the combined batch, and every worker reports
    the same loss. ``dist_async`` keeps MXNet's server-side updates and each worker normalizes
    by its own positives.
    """

    def __init__(self, kvstore: str):
        self.distributed = kvstore.startswith('dist')
        check_launched(kvstore)
        self.kvstore = mx.kv.create(kvstore) if self.distributed else kvstore
        self.rank = self.kvstore.rank if self.distributed else 0
        self.count = self.kvstore.num_workers if self.distributed else 1
        self.synchronous = self.distributed and 'async' not in kvstore
        if self.synchronous:
            self._sums = mx.nd.zeros((3,))
            self.kvstore.init(SUMS_KEY, self._sums)

    @property
    def optimizer_state_here(self) -> bool:
        """False for ``dist_async``: the servers run the optimizer and hold its state, so
        checkpoints carry the weights only and a resumed run restarts the optimizer."""
        return not self.distributed or self.synchronous

    @property
    def chief(self) -> bool:
        """Rank 0 validates, logs the mAP and writes the checkpoints."""
        return self.rank == 0

    def trainer(self, params, optimizer: str, optimizer_params: dict):
        """The Trainer for these workers (gradients summed on the servers when distributed)."""
        trainer_class = BroadcastFirstTrainer if self.synchronous else mx.gluon.Trainer
        return trainer_class(params, optimizer, optimizer_params, kvstore=self.kvstore,
                             update_on_kvstore=False if self.synchronous else None)

    def sum_over_workers(self, sums: mx.nd.NDArray) -> mx.nd.NDArray:
        """``[positives, class loss, box loss]`` summed over the workers (this worker's own
        when not synchronous). Stays on the device: nothing waits for the servers here."""
        if not self.synchronous:
            return sums
        self.kvstore.push(SUMS_KEY, sums)
        self.kvstore.pull(SUMS_KEY, out=self._sums)
        return self._sums.copy()  # the next step pulls into the same buffer
