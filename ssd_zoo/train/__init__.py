"""Training: the MultiBoxTarget loss, schedules, checkpoints and the loop."""
from .checkpoint import load_checkpoint, save_checkpoint
from .loop import TrainConfig, TrainingDiverged, fit
from .loss import SSDMultiBoxLoss, to_multibox_labels
from .schedule import LRSchedule
from .step import StepLosses, TrainStep
from .workers import Workers

__all__ = ['SSDMultiBoxLoss', 'to_multibox_labels', 'LRSchedule', 'TrainConfig', 'fit',
           'TrainingDiverged', 'save_checkpoint', 'load_checkpoint', 'TrainStep', 'StepLosses',
           'Workers']
