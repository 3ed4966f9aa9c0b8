"""Learning-rate schedules as pure functions of the iteration (so resuming is exact)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

__all__ = ['LRSchedule']


@dataclass
class LRSchedule:
    """Linear warmup, then cosine decay to ``final_lr`` or steps of ``factor`` at ``steps``.

    Parameters
    ----------
    base_lr : float
        Rate after warmup.
    total : int
        Iterations of the whole run.
    warmup : int
        Warmup iterations, starting at ``base_lr * warmup_factor``.
    mode : str
        ``'cosine'`` or ``'step'``.
    steps : sequence of int
        Iterations where a ``'step'`` schedule multiplies the rate by ``factor``.
    """

    base_lr: float
    total: int
    warmup: int = 0
    mode: str = 'step'
    steps: Sequence[int] = ()
    factor: float = 0.1
    warmup_factor: float = 1.0 / 3
    final_lr: float = 0.0

    def __post_init__(self):
        if self.mode not in ('cosine', 'step'):
            raise ValueError("learning-rate mode must be 'cosine' or 'step', got %r" % self.mode)

    def __call__(self, iteration: int) -> float:
        if iteration < self.warmup:
            alpha = iteration / max(1, self.warmup)
            return self.base_lr * (self.warmup_factor + (1 - self.warmup_factor) * alpha)
        if self.mode == 'cosine':
            span = max(1, self.total - self.warmup)
            progress = min(1.0, (iteration - self.warmup) / span)
            return self.final_lr + (self.base_lr - self.final_lr) * \
                (1 + math.cos(math.pi * progress)) / 2
        return self.base_lr * self.factor ** sum(iteration >= s for s in self.steps)
