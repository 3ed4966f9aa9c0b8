"""Published weight files, as ssd_zoo's own data: one record per file GluonCV publishes for
an SSD zoo model (the values are GluonCV's model-store table and model-zoo page; the
test-suite compares the SHA-1s with the installed GluonCV's table).

The files themselves stay in GluonCV's model store (:mod:`ssd_zoo.model.model_store`):
``<name>-<sha1[:8]>.params`` under ``$MXNET_HOME/models``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ['WeightsRecord', 'PUBLISHED']

#: where the published accuracies are quoted from
GLUONCV_ZOO = 'GluonCV model zoo (VOC07 test mAP, trained on VOC07+12; COCO val2017 AP)'


@dataclass(frozen=True)
class WeightsRecord:
    """One published weights file.

    Attributes
    ----------
    model : str
        The zoo name the file is for.
    sha1 : str
        SHA-1 of the ``.params`` file (its first 8 characters are in the file name).
    dataset : str
        ``'voc'`` (20 classes) or ``'coco'`` (80).
    input_size : int
        The training input side.
    metric : str
        ``'VOC07 mAP'`` or ``'COCO AP'``.
    published : float, optional
        The published accuracy in percent; None where ssd_zoo has no published figure.
    source : str
        Where ``published`` is quoted from.
    """

    model: str
    sha1: str
    dataset: str
    input_size: int
    metric: str
    published: Optional[float]
    source: str = GLUONCV_ZOO

    @property
    def file_name(self) -> str:
        """GluonCV's name of the file, ``<model>-<sha1[:8]>.params``."""
        return '%s-%s.params' % (self.model, self.sha1[:8])

    @property
    def num_classes(self) -> int:
        """Foreground classes the file was trained for."""
        return {'voc': 20, 'coco': 80}[self.dataset]


def _voc(model, sha1, size, published):
    return WeightsRecord(model, sha1, 'voc', size, 'VOC07 mAP', published)


def _coco(model, sha1, size, published):
    return WeightsRecord(model, sha1, 'coco', size, 'COCO AP', published)


PUBLISHED: Tuple[WeightsRecord, ...] = (
    _voc('ssd_300_vgg16_atrous_voc', '0e169fbb64efdee6985c3c175ec4298c4bda0298', 300, 77.6),
    _coco('ssd_300_vgg16_atrous_coco', 'b302ad8a8660345c368448141d8acf30b5a3801d', 300, 25.1),
    _voc('ssd_512_vgg16_atrous_voc', 'daf8181b615b480236fcb8474545077891276945', 512, 79.2),
    _coco('ssd_512_vgg16_atrous_coco', '5c86064290c05eccbdd88475376c71c595c8325c', 512, 28.9),
    _voc('ssd_512_resnet50_v1_voc', '9c8b225a552614e4284a0f647331bfdc6940eb4a', 512, 80.1),
    _coco('ssd_512_resnet50_v1_coco', 'c48351620d4f0cbc49e4f7a84c8e67ef8fdc6e09', 512, 30.6),
    _voc('ssd_512_resnet101_v2_voc', '2cc0f93edf1467f428018cc7261d3246dfa15259', 512, None),
    _voc('ssd_512_mobilenet1.0_voc', '37c180765a4eb3e67751d6bacac47bb9156f5fff', 512, 75.4),
    _coco('ssd_512_mobilenet1.0_coco', 'da9756faa5b9b4e34dedcf83ee0733d5895796ad', 512, 21.7),
    _coco('ssd_300_resnet34_v1b_coco', 'ade34ff72a2418fac94afe1048bc305b980c83c5', 300, None),
)
