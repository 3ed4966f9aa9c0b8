"""``ssd-zoo check-data``: every unreadable image and malformed annotation named (exit 1),
a clean dataset's report with the anchor coverage (exit 0), and the coverage itself checked
against boxes placed exactly on anchors."""
import os

import numpy as np
import pytest
from test_data_policy import TINY

from ssd_zoo.cli import main
from ssd_zoo.data import generate_shapes
from ssd_zoo.data.check import anchor_coverage, check_image, scaled_anchors


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    return generate_shapes(str(tmp_path_factory.mktemp('shapes')), TINY)


def run(capsys, *args):
    status = main(['check-data', '--workers', '2'] + list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_clean_dataset_passes_with_its_anchor_coverage(shapes, capsys):
    status, out, _ = run(capsys, '--dataset', 'custom', '--dataset-root', shapes, '--model',
                         'ssd_300_plainnet_custom', '--suggest-sizes')
    assert status == 0, out
    assert 'train: 16 images' in out and 'val: 4 images' in out
    assert 'anchor coverage of ssd_300_plainnet_custom on val' in out and 'by class:' in out
    assert 'by size:' in out and 'worst covered:' in out and 'suggested sizes' in out
    assert '0 unreadable images, 0 malformed annotations' in out


def test_a_damaged_folder_fails_naming_every_bad_file(tmp_path, capsys):
    root = generate_shapes(str(tmp_path / 'shapes'), TINY)
    images = os.path.join(root, 'JPEGImages')
    broken = [os.path.join(images, '000002.jpg'), os.path.join(images, '000017.jpg')]
    for path in broken:  # one in train, one in val
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])
    bad_xml = os.path.join(root, 'Annotations', '000005.xml')
    open(bad_xml, 'w').write('<annotation><size>')
    status, out, _ = run(capsys, '--dataset', 'custom', '--dataset-root', root)
    assert status == 1
    for path in broken:
        assert 'unreadable image: %s' % path in out
    assert 'malformed annotation: annotation %s is not valid XML' % bad_xml in out
    assert '2 unreadable images, 1 malformed annotations' in out


def test_a_truncated_jpeg_is_found_even_when_opencv_decodes_it(tmp_path):
    import cv2
    path = str(tmp_path / 'x.jpg')
    cv2.imwrite(path, np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:-200])
    assert 'truncated' in check_image(path).error


def test_coverage_counts_boxes_at_the_threshold():
    """Boxes equal to an anchor are covered; a box of a quarter of an anchor's area is not
    (IoU 0.25); scaling the anchors by 0.5 covers it."""
    anchors = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    labels = [np.array([[0, 0, 50, 50, 0, 0], [50, 50, 100, 100, 1, 0],
                        [12.5, 12.5, 37.5, 37.5, 1, 0]], np.float32)]
    coverage = anchor_coverage(anchors, labels, [(100, 100)], ['a.jpg'], 300)
    np.testing.assert_allclose(coverage.best_iou, [1, 1, 0.25])
    assert coverage.overall == pytest.approx(2 / 3)
    assert coverage.by_class(['x', 'y']) == {'x': (1.0, 1), 'y': (0.5, 2)}
    smaller = anchor_coverage(scaled_anchors(anchors, 0.5), labels, [(100, 100)], ['a.jpg'],
                              300)
    assert smaller.best_iou[2] == pytest.approx(1.0)
