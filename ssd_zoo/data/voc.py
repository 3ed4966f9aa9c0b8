"""VOC-format datasets: Pascal VOC 2007/2012 and any VOC-style folder with a class list.

A folder holds ``JPEGImages/``, ``Annotations/*.xml`` and ``ImageSets/Main/<split>.txt``.
Problems are reported before training with the file that has them: a missing or malformed
annotation or an unknown class name raise :class:`BadDataError`; class names are matched
without case and surrounding spaces (``'Person'``, ``' dog '``), the mapping logged; boxes are
clipped, or dropped when they have no area (see :mod:`ssd_zoo.data.base`); images without
objects are kept and counted.
"""
from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Iterable, Optional, Sequence, Tuple

from .base import BadDataError, DetectionDataset
from .classes import fold_name

__all__ = ['VOCFolder', 'VOCDetection', 'VOC_CLASSES', 'read_class_list',
           'write_voc_annotation']

log = logging.getLogger(__name__)

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')


def read_class_list(path: str) -> Tuple[str, ...]:
    """Class names, one per line (blank lines and ``#`` comments ignored; a byte-order mark,
    as Windows editors write one, is not part of the first name)."""
    with open(path, encoding='utf-8-sig') as f:
        names = tuple(line.split('#')[0].strip() for line in f)
    names = tuple(n for n in names if n)
    if not names:
        raise BadDataError('%s lists no class names' % path)
    return names


def _number(node, tag, where):
    child = node.find(tag)
    if child is None or child.text is None:
        raise BadDataError('%s: missing <%s>' % (where, tag))
    try:
        return float(child.text)
    except ValueError:
        raise BadDataError('%s: <%s> is %r, not a number' % (where, tag, child.text)) from None


class VOCFolder(DetectionDataset):
    """One VOC-style folder and split.

    Parameters
    ----------
    root : str
        The folder (e.g. ``VOCdevkit/VOC2007`` or a custom one).
    split : str
        Name of the id list in ``ImageSets/Main`` (``'trainval'``, ``'test'``, ...).
    classes : sequence of str, optional
        Default: ``root/classes.txt`` if present, else the 20 VOC classes; an object of a
        class not listed there is an error. Given classes select a subset: objects of other
        classes are skipped, counted and named (as GluonCV's ``VOCDetection(classes=...)``).
    skip_difficult : bool
        Drop objects marked difficult (VOC evaluation keeps and ignores them instead).
    subset : bool, optional
        Whether objects of other classes are skipped (default: whether ``classes`` is given).
    """

    def __init__(self, root: str, split: str = 'trainval',
                 classes: Optional[Sequence[str]] = None, skip_difficult: bool = False,
                 strict: bool = False, errors: Optional[list] = None,
                 subset: Optional[bool] = None):
        class_file = os.path.join(root, 'classes.txt')
        #: objects of classes not in ``classes`` are skipped (default: classes were given)
        self.subset = classes is not None if subset is None else subset
        if classes is None:
            classes = read_class_list(class_file) if os.path.isfile(class_file) else VOC_CLASSES
        super().__init__(classes, strict, errors)
        self.root, self.split = root, split
        # class names are matched without surrounding spaces and case (GluonCV's VOC reader)
        index = {fold_name(name): i for i, name in enumerate(self.classes)}
        #: annotation names that were matched to a class written otherwise
        self.renamed = {}
        #: objects skipped because ``classes`` selects others: name -> count
        self.other_classes: Counter = Counter()
        id_file = os.path.join(root, 'ImageSets', 'Main', split + '.txt')
        if not os.path.isfile(id_file):
            raise FileNotFoundError('split list %s does not exist (a VOC folder has '
                                    'ImageSets/Main/<split>.txt)' % id_file)
        with open(id_file, encoding='utf-8-sig') as f:  # a byte-order mark is no image id
            ids = [line.split()[0] for line in f if line.strip()]
        for image_id in ids:
            try:
                self._load(image_id, index, skip_difficult)
            except BadDataError as err:
                self._malformed(err)
        if self.other_classes:
            log.info('%s [%s]: objects of classes not selected were skipped: %s', root, split,
                     ', '.join('%d %s' % (n, k) for k, n in sorted(self.other_classes.items())))
        if self.renamed:
            log.info('%s [%s]: class names matched ignoring case and spaces: %s', root, split,
                     ', '.join('%r -> %r' % kv for kv in sorted(self.renamed.items())))
        self._log_report('%s [%s]' % (root, split))

    def _load(self, image_id, index, skip_difficult):
        xml_path = os.path.join(self.root, 'Annotations', image_id + '.xml')
        if not os.path.isfile(xml_path):
            raise BadDataError('annotation %s is missing (listed in ImageSets/Main/%s.txt)'
                               % (xml_path, self.split))
        try:
            tree = ET.parse(xml_path).getroot()
        except ET.ParseError as err:
            raise BadDataError('annotation %s is not valid XML: %s' % (xml_path, err)) from None
        size = tree.find('size')
        if size is None:
            raise BadDataError('%s: missing <size>' % xml_path)
        width, height = _number(size, 'width', xml_path), _number(size, 'height', xml_path)
        file_name = tree.findtext('filename') or image_id + '.jpg'
        image_path = os.path.join(self.root, 'JPEGImages', os.path.basename(file_name))
        if not os.path.isfile(image_path):
            image_path = os.path.join(self.root, 'JPEGImages', image_id + '.jpg')
        rows = []
        for k, obj in enumerate(tree.iter('object')):
            where = '%s object %d' % (xml_path, k)
            name = obj.findtext('name') or ''
            key = fold_name(name)  # 'Person', ' dog ' (annotation tools): as GluonCV
            if key not in index and self.subset:
                self.other_classes[name] += 1
                self.report['objects of classes not selected skipped'] += 1
                continue
            if key not in index:
                raise BadDataError('%s: unknown class %r; the classes are %s (pass --classes or '
                                   'fix classes.txt)' % (where, name, list(self.classes)))
            if name != self.classes[index[key]]:
                self.renamed[name] = self.classes[index[key]]
            difficult = int(float(obj.findtext('difficult') or 0))
            if difficult and skip_difficult:
                self.report['difficult objects skipped'] += 1
                continue
            box = obj.find('bndbox')
            if box is None:
                raise BadDataError('%s: missing <bndbox>' % where)
            # VOC pixel coordinates are 1-based
            corners = [_number(box, tag, where) - 1 for tag in ('xmin', 'ymin', 'xmax', 'ymax')]
            box = self.check_box(corners, width, height, where)
            if box is not None:
                rows.append(box + [index[key], difficult])
        self._add(image_path, rows)


class VOCDetection(DetectionDataset):
    """Pascal VOC: several ``(year, split)`` of ``root/VOC<year>`` together."""

    def __init__(self, root: str, splits: Iterable[Tuple[int, str]] = ((2007, 'trainval'),),
                 classes: Optional[Sequence[str]] = None, skip_difficult: bool = False,
                 strict: bool = False, errors: Optional[list] = None):
        # the 20 classes unless a subset is selected (VOCFolder skips the others, counted)
        super().__init__(classes or VOC_CLASSES, strict, errors)
        self.subset = self.classes != list(VOC_CLASSES)
        for year, split in splits:
            part = VOCFolder(os.path.join(root, 'VOC%s' % year), split, self.classes,
                             skip_difficult, strict, errors, self.subset)
            self.extend(part)


def write_voc_annotation(path: str, file_name: str, shape, objects, difficult=()) -> None:
    """Write a VOC XML file; ``objects`` are ``(class, [x1, y1, x2, y2])`` 0-based pixels."""
    root = ET.Element('annotation')
    ET.SubElement(root, 'filename').text = file_name
    size = ET.SubElement(root, 'size')
    for tag, value in zip(('height', 'width', 'depth'), shape):
        ET.SubElement(size, tag).text = str(value)
    for k, (name, box) in enumerate(objects):
        obj = ET.SubElement(root, 'object')
        ET.SubElement(obj, 'name').text = name
        ET.SubElement(obj, 'difficult').text = '1' if k in difficult else '0'
        bndbox = ET.SubElement(obj, 'bndbox')
        for tag, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), box):
            ET.SubElement(bndbox, tag).text = str(int(value) + 1)
    ET.ElementTree(root).write(path)
