"""One box and image policy for every reader: boxes without area dropped and named, VOC class
names matched without case and spaces, undecodable images skipped deterministically - and
``strict`` (``--strict-data``) stopping at each with the file named."""
import json
import logging
import os

import cv2
import numpy as np
import pytest

from ssd_zoo.data import BadDataError, VOCFolder, generate_shapes, make_loader, read_image
from ssd_zoo.data.cache import GIB, DecodedImageCache
from ssd_zoo.data.coco import COCODetection
from ssd_zoo.data.loader import uses_threads
from ssd_zoo.data.shapes import ShapesSpec
from ssd_zoo.data.transforms import TrainTransform, ValTransform
from ssd_zoo.data.voc import write_voc_annotation

TINY = ShapesSpec(num_train=16, num_val=4, image_size=96, min_side=16, max_side=60,
                  max_objects=3, seed=3)


def coco_file(tmp_path, boxes):
    """A COCO instances file of one 100x80 image with ``boxes`` (x, y, w, h) of category 1."""
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.jpg'), np.full((80, 100, 3), 128, np.uint8))
    data = {'images': [{'id': 1, 'file_name': 'a.jpg', 'width': 100, 'height': 80}],
            'categories': [{'id': 1, 'name': 'person'}],
            'annotations': [{'id': k + 1, 'image_id': 1, 'category_id': 1, 'bbox': list(b),
                             'area': b[2] * b[3], 'iscrowd': 0} for k, b in enumerate(boxes)]}
    path = tmp_path / 'instances.json'
    path.write_text(json.dumps(data))
    return str(path), str(images)


def test_coco_boxes_without_height_or_width_are_dropped_counted_and_named(tmp_path):
    path, images = coco_file(tmp_path, [(10, 10, 30, 20), (5, 5, 20, 0), (50, 5, 0, 9),
                                        (200, 5, 10, 10)])
    dataset = COCODetection(path, images)
    label = dataset.label(0)
    assert len(label) == 1 and np.allclose(label[0, :4], [10, 10, 40, 30])
    assert dataset.report['boxes without area dropped'] == 3  # the last one lies outside
    assert len(dataset.dropped) == 3 and all('annotation' in d for d in dataset.dropped)
    assert 'annotation 2' in dataset.dropped[0]


def test_coco_strict_stops_at_the_first_box_without_area(tmp_path):
    path, images = coco_file(tmp_path, [(10, 10, 30, 20), (5, 5, 20, 0)])
    with pytest.raises(BadDataError, match=r'annotation 2 .*no area.*--strict-data'):
        COCODetection(path, images, strict=True)


def voc_folder(tmp_path, names):
    root = tmp_path / 'voc'
    for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        (root / sub).mkdir(parents=True)
    cv2.imwrite(str(root / 'JPEGImages' / 'x.jpg'), np.zeros((50, 60, 3), np.uint8))
    write_voc_annotation(str(root / 'Annotations' / 'x.xml'), 'x.jpg', (50, 60, 3),
                         [(name, [2 + 10 * k, 2, 12 + 10 * k, 20]) for k, name in
                          enumerate(names)])
    (root / 'ImageSets' / 'Main' / 'train.txt').write_text('x\n')
    return str(root)


def test_voc_class_names_match_without_case_and_spaces(tmp_path):
    root = voc_folder(tmp_path, ['Person', ' dog ', 'person'])
    dataset = VOCFolder(root, 'train', classes=['person', 'dog'])
    assert list(dataset.label(0)[:, 4]) == [0, 1, 0]
    assert dataset.renamed == {'Person': 'person', ' dog ': 'dog'}


def test_voc_unknown_class_of_the_class_list_stops_naming_file_and_classes(tmp_path):
    root = voc_folder(tmp_path, ['cat'])
    with open(os.path.join(root, 'classes.txt'), 'w') as f:
        f.write('person\ndog\n')
    with pytest.raises(BadDataError, match=r"x.xml object 0: unknown class 'cat'.*person"):
        VOCFolder(root, 'train')


def test_voc_given_classes_select_a_subset_counting_and_naming_the_others(tmp_path):
    # GluonCV's VOCDetection(classes=...) skips the other objects; here they are also counted
    root = voc_folder(tmp_path, ['cat', 'dog', 'cat'])
    dataset = VOCFolder(root, 'train', classes=['person', 'dog'])
    assert list(dataset.label(0)[:, 4]) == [1]
    assert dataset.other_classes == {'cat': 2}
    assert dataset.report['objects of classes not selected skipped'] == 2


def test_duplicate_class_names_are_refused(tmp_path):
    root = voc_folder(tmp_path, ['dog'])
    with pytest.raises(BadDataError, match='more than once'):
        VOCFolder(root, 'train', classes=['dog', 'Dog'])


@pytest.fixture()
def damaged(tmp_path):
    """A shapes folder whose training image 000003.jpg is truncated to a tenth."""
    root = generate_shapes(str(tmp_path / 'shapes'), TINY)
    path = os.path.join(root, 'JPEGImages', '000003.jpg')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 10])
    return root, path


def test_an_undecodable_image_is_replaced_by_the_next_with_its_own_labels(damaged):
    root, bad = damaged
    dataset = VOCFolder(root, 'train')
    image, label, skipped = dataset.load(3)
    expected_image, expected_label = dataset[4]
    assert skipped == bad
    assert np.array_equal(image, expected_image) and np.array_equal(label, expected_label)
    assert dataset.load(3)[2] == bad  # deterministic
    loader, _ = make_loader(dataset, ValTransform(96), 8, shuffle=False, drop_last=False)
    batches = list(loader)
    assert [b.skipped for b in batches] == [[bad], []]
    assert [b.replaced for b in batches] == [[3], []]
    assert len(batches[0][0]) == 8


@pytest.mark.parametrize('workers', ['thread', 'process'])
def test_loader_workers_yield_the_batches_made_inline_with_their_skips(damaged, workers):
    """A thread or a process worker makes the same batches as the caller's thread would
    (images, labels, augmentation, the skipped file and the row that replaced it)."""
    root, bad = damaged
    dataset = VOCFolder(root, 'train')

    def batches(**kwargs):
        loader, sampler = make_loader(dataset, TrainTransform(64), 4, shuffle=True, seed=3,
                                      **kwargs)
        sampler.set_epoch(1)
        return list(loader)
    inline, parallel = batches(num_workers=0), batches(num_workers=1, workers=workers)
    assert len(inline) == len(parallel) >= 2
    for a, b in zip(inline, parallel):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert (a.skipped, a.replaced) == (b.skipped, b.replaced)
    assert [bad] in [b.skipped for b in parallel]


class CountingReads:
    """A dataset that counts the items read from it (each a file decoded)."""

    def __init__(self, dataset):
        self.dataset, self.reads = dataset, 0

    def __len__(self):
        return len(self.dataset)

    def load(self, index):
        self.reads += 1
        return self.dataset.load(index)


@pytest.mark.parametrize('workers', [0, 1])
def test_cached_images_give_the_same_batches_and_are_decoded_once(damaged, workers):
    """With --cache-images the batches of every epoch are those of a loader that decodes
    each time, skipped file included, and the second epoch decodes nothing."""
    root, bad = damaged
    counted = CountingReads(VOCFolder(root, 'train'))
    plain, plain_sampler = make_loader(VOCFolder(root, 'train'), TrainTransform(64), 4,
                                       shuffle=True, seed=3, num_workers=workers)
    cached, cached_sampler = make_loader(counted, TrainTransform(64), 4, shuffle=True, seed=3,
                                         num_workers=workers, cache_bytes=GIB)
    for epoch in range(2):
        plain_sampler.set_epoch(epoch)
        cached_sampler.set_epoch(epoch)
        for a, b in zip(plain, cached):
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
            assert (a.skipped, a.replaced) == (b.skipped, b.replaced)
        assert counted.reads == len(counted)  # all in the first epoch, none in the second
    assert [bad] in [b.skipped for b in cached]


def test_the_image_cache_keeps_its_budget_and_hands_out_copies(damaged, caplog):
    root, _ = damaged
    counted = CountingReads(VOCFolder(root, 'train'))
    one_image = counted.load(0)[0].nbytes
    cache = DecodedImageCache(counted, 2 * one_image)
    image, label, _ = cache.load(0)
    image[:] = 0
    label[:] = -5
    again, label_again, _ = cache.load(0)
    assert again.any() and (label_again != -5).all()  # what the caller did stays its own
    with caplog.at_level(logging.INFO, logger='ssd_zoo.data.cache'):
        for index in (1, 2, 3, 1, 2, 3):
            cache.load(index)
    # 0 and 1 kept; 2 and 3 read twice; the full cache said once
    assert (cache.used, counted.reads) == (2 * one_image, 1 + 1 + 1 + 2 * 2)
    assert caplog.text.count('image cache full at') == 1 and '--cache-images' in caplog.text
    with pytest.raises(ValueError, match='>= 0'):
        DecodedImageCache(counted, -1)


def test_the_image_cache_indexes_as_its_dataset_with_the_replacement_of_a_bad_file(damaged):
    """``cache[i]`` (the cache used as a plain dataset) is ``dataset.load(i)`` without the
    skip report: an undecodable file gives the next readable image with its own labels."""
    root, _ = damaged
    dataset = VOCFolder(root, 'train')
    cache = DecodedImageCache(dataset, GIB)
    for index, source in ((0, 0), (3, 4), (3, 4)):  # 000003.jpg is bad; then from memory
        image, label = cache[index]
        expected_image, expected_label = dataset[source]
        assert np.array_equal(image, expected_image) and np.array_equal(label, expected_label)
    assert len(cache) == len(dataset)


def test_worker_processes_share_the_image_cache_budget(damaged, caplog):
    root, _ = damaged
    with caplog.at_level(logging.INFO, logger='ssd_zoo.data.loader'):
        loader, _ = make_loader(VOCFolder(root, 'train'), TrainTransform(64), 4, shuffle=True,
                                num_workers=2, workers='process', cache_bytes=GIB)
    assert loader._dataset.dataset.budget == GIB // 2
    assert '0.50 GiB in each of 2 worker processes' in caplog.text


def test_one_loader_worker_is_a_thread_several_are_processes():
    assert uses_threads('auto', 1) and not uses_threads('auto', 2)
    assert uses_threads('thread', 4) and not uses_threads('process', 1)
    with pytest.raises(ValueError, match="'fiber'.*one of"):
        uses_threads('fiber', 1)


def test_strict_stops_at_an_undecodable_image_naming_it(damaged):
    root, bad = damaged
    dataset = VOCFolder(root, 'train', strict=True)
    with pytest.raises(BadDataError, match=r'000003.jpg.*--strict-data'):
        dataset.load(3)


@pytest.mark.parametrize('kind', ['gray', 'rgba', 'cmyk'])
def test_grayscale_rgba_and_cmyk_images_are_read_as_rgb(tmp_path, kind):
    from PIL import Image
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :, 0] = 200  # red
    path = str(tmp_path / ('x.png' if kind == 'rgba' else 'x.jpg'))
    picture = Image.fromarray(pixels)
    picture = {'gray': picture.convert('L'), 'rgba': picture.convert('RGBA'),
               'cmyk': picture.convert('CMYK')}[kind]
    picture.save(path, quality=95)
    image = read_image(path)
    assert image.shape == (20, 30, 3) and image.dtype == np.uint8
    if kind != 'gray':
        assert image[..., 0].mean() > 150 and image[..., 1:].mean() < 60  # still red


SCRIPTS = os.path.join(os.path.dirname(__file__), '..', 'scripts')


def train(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, 'train_ssd.py'),
                           '--network', 'plainnet', '--data-shape', '96', '--batch-size', '8',
                           '--epochs', '1', '--num-workers', '0'] + list(args),
                          capture_output=True, text=True)


def test_training_runs_through_mixed_case_names_and_a_truncated_jpeg(damaged, tmp_path):
    root, bad = damaged
    annotations = os.path.join(root, 'Annotations')
    for name in os.listdir(annotations):  # names as annotation tools write them
        path = os.path.join(annotations, name)
        text = open(path).read().replace('<name>circle</name>', '<name>Circle</name>')
        open(path, 'w').write(text.replace('<name>star</name>', '<name> star </name>'))
    common = ['--dataset', 'custom', '--dataset-root', root, '--save-prefix',
              str(tmp_path / 'run')]
    out = train(*common)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'best validation voc07 mAP' in out.stdout
    assert "'Circle' -> 'circle'" in out.stderr and "' star ' -> 'star'" in out.stderr
    assert '1 unreadable training images were skipped' in out.stdout
    assert '000003.jpg' in out.stderr
    out = train(*common, '--strict-data')
    assert out.returncode == 1 and '000003.jpg' in out.stderr and '--strict-data' in out.stderr
    assert 'Traceback' not in out.stderr


def coco_dataset(tmp_path):
    """A COCO-layout folder from a tiny shapes set, with a zero-height box in training."""
    from ssd_zoo.data import VOCFolder
    root = generate_shapes(str(tmp_path / 'shapes'), TINY)
    out = tmp_path / 'coco'
    (out / 'annotations').mkdir(parents=True)
    for split, part in (('train2017', 'train'), ('val2017', 'val')):
        voc = VOCFolder(root, part)
        (out / split).mkdir()
        images, annotations = [], []
        for i in range(len(voc)):
            name = os.path.basename(voc.image_path(i))
            os.link(voc.image_path(i), str(out / split / name))
            images.append({'id': i + 1, 'file_name': name, 'width': 96, 'height': 96})
            for x1, y1, x2, y2, cls, _ in voc.label(i):
                annotations.append({'id': len(annotations) + 1, 'image_id': i + 1,
                                    'category_id': int(cls) + 1, 'iscrowd': 0,
                                    'bbox': [float(x1), float(y1), float(x2 - x1),
                                             float(y2 - y1)], 'area': 1.0})
        annotations.append({'id': len(annotations) + 1, 'image_id': 1, 'category_id': 1,
                            'iscrowd': 0, 'bbox': [10.0, 20.0, 15.0, 0.0], 'area': 0.0})
        data = {'images': images, 'annotations': annotations,
                'categories': [{'id': k + 1, 'name': n} for k, n in enumerate(voc.classes)]}
        (out / 'annotations' / ('instances_%s.json' % split)).write_text(json.dumps(data))
    return str(out)


def test_training_runs_on_coco_with_zero_height_boxes(tmp_path):
    root = coco_dataset(tmp_path)
    common = ['--dataset', 'coco', '--dataset-root', root, '--save-prefix',
              str(tmp_path / 'run')]
    out = train(*common)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'training data: 1 boxes without area dropped' in out.stdout
    assert 'instances_train2017.json annotation' in out.stderr  # named in the log
    out = train(*common, '--strict-data')
    assert out.returncode == 1 and 'instances_train2017.json annotation' in out.stderr
    assert 'no area' in out.stderr and 'Traceback' not in out.stderr


def test_evaluation_leaves_an_unreadable_image_out(damaged):
    """Scored without it: its stand-in (the next image) is not counted twice."""
    import mxnet as mx

    import ssd_zoo
    from ssd_zoo.evaluation import evaluate
    root, _ = damaged
    dataset = VOCFolder(root, 'train')
    net = ssd_zoo.get_ssd('plainnet', 96, classes=dataset.classes)
    net.initialize()
    loader, _ = make_loader(dataset, ValTransform(96), 8, shuffle=False, drop_last=False)
    result = evaluate(net, loader, dataset.classes, ('voc07',), mx.cpu())
    assert result['images'] == len(dataset) - 1


def test_classes_select_a_subset_of_coco_in_their_order_and_count_the_rest(tmp_path):
    """--classes for COCO as for VOC: the named categories, in that order; objects of the
    others left out and counted; an unknown name lists the file's categories."""
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.jpg'), np.full((80, 100, 3), 128, np.uint8))
    data = {'images': [{'id': 1, 'file_name': 'a.jpg', 'width': 100, 'height': 80}],
            'categories': [{'id': 1, 'name': 'person'}, {'id': 3, 'name': 'car'},
                           {'id': 7, 'name': 'dog'}],
            'annotations': [{'id': k + 1, 'image_id': 1, 'category_id': c, 'iscrowd': 0,
                             'bbox': [10 * k, 5, 20, 20], 'area': 400}
                            for k, c in enumerate((1, 3, 7, 3))]}
    path = tmp_path / 'instances.json'
    path.write_text(json.dumps(data))
    dataset = COCODetection(str(path), str(images), classes=['Dog', 'car'])
    assert dataset.classes == ['dog', 'car'] and dataset.category_ids == [7, 3]
    label = dataset.label(0)
    assert sorted(label[:, 4].tolist()) == [0, 1, 1]  # dog -> 0, the two cars -> 1
    assert dataset.report['objects of classes not selected left out'] == 1
    with pytest.raises(ValueError, match='zebra: not categories of .* person, car, dog'):
        COCODetection(str(path), str(images), classes=['zebra'])


def test_classes_select_a_subset_of_shapes(tmp_path):
    from ssd_zoo.data import build_dataset
    root = generate_shapes(str(tmp_path / 'shapes'), TINY)
    everything = build_dataset('shapes', root, split='train')
    stars = build_dataset('shapes', root, ['star'], split='train')
    assert stars.classes == ['star']
    objects = sum(len(everything.label(i)) for i in range(len(everything)))
    kept = sum(len(stars.label(i)) for i in range(len(stars)))
    assert 0 < kept < objects and all((stars.label(i)[:, 4] == 0).all()
                                      for i in range(len(stars)))


def test_a_byte_order_mark_is_not_part_of_a_class_name_or_an_image_id(tmp_path):
    """Windows editors start text files with a UTF-8 byte-order mark: classes.txt and the
    split lists read the same with it."""
    root = generate_shapes(str(tmp_path / 'shapes'), TINY)
    plain = VOCFolder(root, 'train')
    for name in ('classes.txt', os.path.join('ImageSets', 'Main', 'train.txt')):
        path = os.path.join(root, name)
        with open(path, 'rb') as f:
            text = f.read()
        with open(path, 'wb') as f:
            f.write(b'\xef\xbb\xbf' + text)
    marked = VOCFolder(root, 'train')
    assert marked.classes == plain.classes == ['circle', 'rectangle', 'triangle', 'star']
    assert len(marked) == len(plain)
