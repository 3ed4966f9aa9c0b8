"""Dataset readers on small files the tests write, bad-data reports, and the transforms."""
import json
import os

import cv2
import mxnet as mx
import numpy as np
import pytest

from ssd_zoo.data import (
    BadDataError,
    COCODetection,
    EpochBatchSampler,
    LstDetection,
    RecordDetection,
    ShapesSpec,
    TrainTransform,
    ValTransform,
    VOCFolder,
    batchify,
    generate_shapes,
    make_loader,
)
from ssd_zoo.data.shapes import GENERATOR_VERSION
from ssd_zoo.data.transforms import INTERPOLATIONS, pairwise_iou, random_crop_window
from ssd_zoo.data.voc import write_voc_annotation


def write_image(path, width=64, height=48, value=100):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.full((height, width, 3), value, np.uint8))


def voc_folder(root, objects_per_image, classes=('cat', 'dog'), difficult=()):
    for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    ids = []
    for i, objects in enumerate(objects_per_image):
        image_id = '%03d' % i
        write_image(os.path.join(root, 'JPEGImages', image_id + '.jpg'))
        write_voc_annotation(os.path.join(root, 'Annotations', image_id + '.xml'),
                             image_id + '.jpg', (48, 64, 3), objects, difficult)
        ids.append(image_id)
    with open(os.path.join(root, 'ImageSets', 'Main', 'train.txt'), 'w') as f:
        f.write('\n'.join(ids))
    with open(os.path.join(root, 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes))
    return root


def test_voc_folder_reads_boxes_classes_and_difficult_flags(tmp_path):
    root = voc_folder(str(tmp_path / 'voc'), [[('dog', [1, 2, 30, 40]), ('cat', [5, 5, 9, 9])],
                                              []], difficult=(1,))
    data = VOCFolder(root, 'train')
    assert data.classes == ['cat', 'dog'] and len(data) == 2
    image, label = data[0]
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(label, [[1, 2, 30, 40, 1, 0], [5, 5, 9, 9, 0, 1]])
    assert data[1][1].shape == (0, 6)
    assert data.report['images without objects'] == 1
    assert len(VOCFolder(root, 'train', skip_difficult=True).label(0)) == 1


@pytest.mark.parametrize('mutate,message', [
    (lambda xml: xml.replace('<name>dog</name>', '<name>zebra</name>'), "unknown class 'zebra'"),
    # without strict such a box is dropped and counted (test_data_policy.py)
    (lambda xml: xml.replace('<xmax>31</xmax>', '<xmax>1</xmax>'), 'has no area'),
    (lambda xml: xml.replace('<ymin>3</ymin>', '<ymin>three</ymin>'), 'not a number'),
    (lambda xml: xml[:40], 'not valid XML'),
])
def test_bad_voc_annotations_name_the_file(tmp_path, mutate, message):
    root = voc_folder(str(tmp_path / 'voc'), [[('dog', [1, 2, 30, 40])]])
    path = os.path.join(root, 'Annotations', '000.xml')
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(mutate(text))
    with pytest.raises(BadDataError, match=message) as err:
        VOCFolder(root, 'train', strict=True)
    assert '000.xml' in str(err.value)


def test_missing_annotation_and_corrupt_image_name_the_file(tmp_path):
    root = voc_folder(str(tmp_path / 'voc'), [[('dog', [1, 2, 30, 40])]])
    with open(os.path.join(root, 'JPEGImages', '000.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    data = VOCFolder(root, 'train')
    with pytest.raises(BadDataError, match='000.jpg'):
        data[0]
    os.remove(os.path.join(root, 'Annotations', '000.xml'))
    with pytest.raises(BadDataError, match='000.xml is missing'):
        VOCFolder(root, 'train')


def test_boxes_outside_the_image_are_clipped_and_counted(tmp_path):
    root = voc_folder(str(tmp_path / 'voc'), [[('dog', [-5, 2, 90, 40])]])
    data = VOCFolder(root, 'train')
    np.testing.assert_array_equal(data.label(0)[0, :4], [0, 2, 63, 40])
    assert data.report['boxes clipped to their image'] == 1


def test_coco_json_skips_crowd_and_keeps_or_skips_empty_images(tmp_path):
    images = tmp_path / 'images'
    for name in ('a.jpg', 'b.jpg'):
        write_image(str(images / name))
    ann = {'images': [{'id': 1, 'file_name': 'a.jpg', 'width': 64, 'height': 48},
                      {'id': 2, 'file_name': 'b.jpg', 'width': 64, 'height': 48}],
           'categories': [{'id': 3, 'name': 'cat'}, {'id': 7, 'name': 'dog'}],
           'annotations': [
               {'id': 1, 'image_id': 1, 'category_id': 7, 'bbox': [2, 3, 10, 20], 'iscrowd': 0,
                'area': 200},
               {'id': 2, 'image_id': 1, 'category_id': 3, 'bbox': [0, 0, 30, 30], 'iscrowd': 1,
                'area': 900}]}
    path = str(tmp_path / 'instances.json')
    with open(path, 'w') as f:
        json.dump(ann, f)
    data = COCODetection(path, str(images))
    assert data.classes == ['cat', 'dog'] and len(data) == 2
    np.testing.assert_array_equal(data.label(0), [[2, 3, 12, 23, 1, 0]])
    assert data.report['crowd boxes left out'] == 1 and len(data.label(1)) == 0
    assert len(COCODetection(path, str(images), skip_empty=True)) == 1
    ann['annotations'][0]['category_id'] = 99
    with open(path, 'w') as f:
        json.dump(ann, f)
    with pytest.raises(BadDataError, match='category 99'):
        COCODetection(path, str(images))


def test_lst_and_rec_in_mxnet_example_format(tmp_path):
    write_image(str(tmp_path / 'img' / 'a.jpg'), 100, 50)
    # header width 2, object width 6 (with difficult), normalized corners
    line = '0\t2\t6\t1\t0.1\t0.2\t0.5\t0.9\t0\t0\t0.0\t0.0\t0.2\t0.2\t1\timg/a.jpg\n'
    (tmp_path / 'train.lst').write_text(line)
    lst = LstDetection(str(tmp_path / 'train.lst'), str(tmp_path), ['a', 'b'])
    expected = [[10, 10, 50, 45, 1, 0], [0, 0, 20, 10, 0, 1]]
    np.testing.assert_allclose(lst.label(0), expected, atol=1e-4)
    rec = mx.recordio.MXIndexedRecordIO(str(tmp_path / 'train.idx'), str(tmp_path / 'train.rec'),
                                        'w')
    header = mx.recordio.IRHeader(0, [2, 6, 1, .1, .2, .5, .9, 0, 0, 0, 0, .2, .2, 1], 0, 0)
    pixels = np.random.default_rng(0).integers(0, 255, (50, 100, 3), dtype=np.uint8)
    record = mx.recordio.pack_img(header, cv2.GaussianBlur(pixels, (5, 5), 0), quality=90)
    rec.write_idx(0, record)
    rec.close()
    packed = RecordDetection(str(tmp_path / 'train.rec'), ['a', 'b'])
    np.testing.assert_allclose(packed.label(0), expected, atol=1e-4)
    _, opencv_bgr = mx.recordio.unpack_img(record)  # MXNet's own decoding of the record
    np.testing.assert_array_equal(packed[0][0], opencv_bgr[:, :, ::-1])
    (tmp_path / 'bad.lst').write_text(line.replace('\t1\t0.1', '\t5\t0.1'))
    with pytest.raises(BadDataError, match='bad.lst line 1 object 0: class 5'):
        LstDetection(str(tmp_path / 'bad.lst'), str(tmp_path), ['a', 'b'])


def test_a_record_whose_image_does_not_decode_is_named_or_collected(tmp_path):
    rec = mx.recordio.MXIndexedRecordIO(str(tmp_path / 'r.idx'), str(tmp_path / 'r.rec'), 'w')
    header = mx.recordio.IRHeader(0, [2, 5, 0, .1, .2, .5, .9], 0, 0)
    rec.write_idx(0, mx.recordio.pack_img(header, np.full((20, 30, 3), 90, np.uint8)))
    rec.write_idx(1, mx.recordio.pack(header, b'not an image'))
    rec.close()
    with pytest.raises(BadDataError, match=r'r.rec record 1: the image does not decode'):
        RecordDetection(str(tmp_path / 'r.rec'), ['a'])
    errors = []
    packed = RecordDetection(str(tmp_path / 'r.rec'), ['a'], errors=errors)
    assert len(packed) == 1 and packed[0][0].shape == (20, 30, 3)
    assert len(errors) == 1 and 'record 1: the image does not decode' in errors[0]


def test_shapes_generation_is_deterministic_and_reused(tmp_path):
    spec = ShapesSpec(num_train=6, num_val=2, seed=3)
    a = generate_shapes(str(tmp_path / 'a'), spec)
    b = generate_shapes(str(tmp_path / 'b'), spec)
    for name in ('000000.xml', '000007.xml'):
        assert open(os.path.join(a, 'Annotations', name)).read() == \
            open(os.path.join(b, 'Annotations', name)).read()
    mtime = os.path.getmtime(os.path.join(a, 'JPEGImages', '000000.jpg'))
    generate_shapes(a, spec)  # already there: nothing rewritten
    assert os.path.getmtime(os.path.join(a, 'JPEGImages', '000000.jpg')) == mtime
    train, val = VOCFolder(a, 'train'), VOCFolder(a, 'val')
    assert len(train) == 6 and len(val) == 2 and train.classes[0] == 'circle'


def _files(root):
    """{relative path: bytes} of every image and annotation of a shapes dataset."""
    found = {}
    for sub in ('JPEGImages', 'Annotations'):
        for name in os.listdir(os.path.join(root, sub)):
            with open(os.path.join(root, sub, name), 'rb') as f:
                found[os.path.join(sub, name)] = f.read()
    return found


def test_shapes_validation_images_do_not_depend_on_the_training_split(tmp_path):
    small = generate_shapes(str(tmp_path / 'small'), ShapesSpec(num_train=2, num_val=3))
    large = generate_shapes(str(tmp_path / 'large'), ShapesSpec(num_train=7, num_val=3))
    for k in range(3):  # val image k is 00000(2+k) in one, 00000(7+k) in the other
        a = open(os.path.join(small, 'Annotations', '%06d.xml' % (2 + k))).read()
        b = open(os.path.join(large, 'Annotations', '%06d.xml' % (7 + k))).read()
        assert a.replace('%06d' % (2 + k), 'ID') == b.replace('%06d' % (7 + k), 'ID')
        assert open(os.path.join(small, 'JPEGImages', '%06d.jpg' % (2 + k)), 'rb').read() == \
            open(os.path.join(large, 'JPEGImages', '%06d.jpg' % (7 + k)), 'rb').read()
    # and the training images the two share are the same too
    assert open(os.path.join(small, 'Annotations', '000001.xml')).read() == \
        open(os.path.join(large, 'Annotations', '000001.xml')).read()


def test_shapes_drawn_in_parallel_equal_drawn_in_one_process(tmp_path, monkeypatch):
    spec = ShapesSpec(num_train=120, num_val=10, image_size=64, min_side=12, max_side=40)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    serial = generate_shapes(str(tmp_path / 'serial'), spec)
    monkeypatch.setenv('OMP_NUM_THREADS', '2')  # 130 images: two processes
    parallel = generate_shapes(str(tmp_path / 'parallel'), spec)
    assert _files(serial) == _files(parallel)
    for split in ('train.txt', 'val.txt'):
        lists = [open(os.path.join(root, 'ImageSets', 'Main', split)).read()
                 for root in (serial, parallel)]
        assert lists[0] == lists[1]


def test_shapes_written_by_an_older_generator_are_regenerated(tmp_path):
    spec = ShapesSpec(num_train=2, num_val=1)
    root = generate_shapes(str(tmp_path / 's'), spec)
    marker = os.path.join(root, 'shapes.json')
    with open(marker) as f:
        identity = json.load(f)
    assert identity['generator'] == GENERATOR_VERSION
    del identity['generator']  # as version 1 wrote it
    with open(marker, 'w') as f:
        json.dump(identity, f)
    os.remove(os.path.join(root, 'JPEGImages', '000000.jpg'))
    generate_shapes(root, spec)
    assert os.path.isfile(os.path.join(root, 'JPEGImages', '000000.jpg'))


@pytest.mark.parametrize('min_visible', [0.5, 0.8])
def test_shapes_objects_stay_visible_under_later_ones(monkeypatch, min_visible):
    """Every labelled shape keeps min_visible of its pixels: recomputed here from the polygons
    the generator paints, painted again one by one into an owner map (the last one wins)."""
    from ssd_zoo.data import shapes
    painted, real_fill = [], cv2.fillPoly

    def recording_fill(image, polygons, color, lineType=cv2.LINE_8, shift=0):
        if image.ndim == 3:  # the picture itself, not a visibility mask
            painted.append((polygons[0], shift))
        return real_fill(image, polygons, color, lineType=lineType, shift=shift)

    monkeypatch.setattr(shapes.cv2, 'fillPoly', recording_fill)
    spec = ShapesSpec(min_objects=4, max_objects=6, min_visible=min_visible)
    least, objects = 1.0, 0
    for index in range(40):
        painted.clear()
        _, labelled = shapes.render_image(shapes.image_rng(spec, 'val', index), spec)
        assert len(labelled) == len(painted)
        owner = np.full((spec.image_size, spec.image_size), -1)
        sizes = []
        for k, (polygon, shift) in enumerate(painted):
            mask = np.zeros(owner.shape, np.uint8)
            real_fill(mask, [polygon], 1, lineType=cv2.LINE_8, shift=shift)
            owner[mask > 0] = k
            sizes.append(int(mask.sum()))
        for k, size in enumerate(sizes):
            least = min(least, (owner == k).sum() / size)
        objects += len(sizes)
    assert objects > 120 and least >= min_visible


def test_visibility_refuses_a_shape_that_covers_too_much_of_another():
    """A large shape over a small one passes the box-IoU bound yet hides it whole."""
    from ssd_zoo.data import shapes
    small = np.zeros((50, 50), bool)
    small[20:25, 20:25] = True
    big = np.zeros((50, 50), bool)
    big[10:40, 10:40] = True   # box IoU with the small one: 25/900, far below 0.4
    half = np.zeros((50, 50), bool)
    half[20:25, 22:40] = True  # covers 3 of the small square's 5 columns: 40% left

    def canvas_with_small_square():
        canvas = shapes._Visibility(50, 50)
        assert canvas.place(small, 0.5)
        return canvas

    assert not canvas_with_small_square().place(big, 0.5)
    assert canvas_with_small_square().place(big, 0.0)
    assert not canvas_with_small_square().place(half, 0.5)
    canvas = canvas_with_small_square()
    assert canvas.place(half, 0.4)
    assert canvas.visible.tolist() == [10, 90] and canvas.drawn.tolist() == [25, 90]


def test_random_crop_respects_iou_constraints():
    rng = np.random.default_rng(0)
    boxes = np.array([[10., 10., 60., 60.], [70., 20., 90., 80.]])
    for _ in range(50):
        window, keep = random_crop_window(boxes, 100, 100, rng, constraints=((0.5, None),))
        if window is not None:
            assert pairwise_iou(window[None], boxes).min() >= 0.5
            assert keep.any()


def test_train_transform_moves_boxes_with_the_pixels():
    """A white square on black: after any augmentation its box still frames the white pixels."""
    image = np.zeros((120, 160, 3), np.uint8)
    image[30:70, 40:100] = 255
    label = np.array([[40, 30, 100, 70, 0, 0]], np.float32)
    transform = TrainTransform(96, distort=False, random_interpolation=False)
    for seed in range(30):
        out, boxes = transform(image, label, np.random.default_rng(seed))
        assert out.shape == (96, 96, 3) and out.dtype == np.uint8
        if not len(boxes):
            continue
        x1, y1, x2, y2 = boxes[0, :4]
        inside = out[int(y1) + 2:int(y2) - 2, int(x1) + 2:int(x2) - 2]
        if inside.size:
            assert inside.min() > 200, 'seed %d: box does not frame the square' % seed
        border = out[:, :max(int(x1) - 2, 0)]
        assert border.size == 0 or border[..., 0].max() < 200


@pytest.mark.parametrize('interpolation', INTERPOLATIONS)
@pytest.mark.parametrize('flip', [False, True])
def test_an_image_at_the_input_size_is_copied_or_mirrored_as_warp_affine_samples_it(
        interpolation, flip):
    """The identity / mirror shortcut of the resize gives warpAffine's own pixels (the map
    samples whole pixels, so every interpolation copies them), for every interpolation."""
    from ssd_zoo.data.transforms import _warp
    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    matrix = np.array([[-1, 0, 55], [0, 1, 0]] if flip else [[1, 0, 0], [0, 1, 0]], float)
    expected = cv2.warpAffine(image, matrix, (56, 40), flags=(
        cv2.INTER_LINEAR if interpolation == cv2.INTER_AREA else interpolation))
    got = _warp(image, 1.0, 1.0, 0.0, 0.0, 56, 40, flip, interpolation)
    np.testing.assert_array_equal(got, expected)
    assert not np.shares_memory(got, image)


@pytest.mark.parametrize('mean, std', [(None, None), ((0.5, 0.25, 0.0), (0.1, 1.0, 0.3))])
def test_normalize_batch_is_the_per_channel_affine_map_bit_for_bit(mean, std):
    from ssd_zoo.data.preprocess import normalize_batch
    from ssd_zoo.defaults import MEAN, STD
    mean, std = mean or MEAN, std or STD
    images = np.random.default_rng(1).integers(0, 256, (3, 7, 5, 3), dtype=np.uint8)
    expected = ((images.transpose(0, 3, 1, 2).astype(np.float32)
                 - np.float32([m * 255 for m in mean]).reshape(1, 3, 1, 1))
                / np.float32([s * 255 for s in std]).reshape(1, 3, 1, 1))
    for batch in (images, mx.nd.array(images, dtype='uint8')):
        got = normalize_batch(batch, mean, std).asnumpy()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def test_normalize_batch_gives_the_same_bits_on_the_host_as_mxnets_image_normalize():
    """The host lookup table (NumPy uint8 on the CPU) against MXNet's own operators (the
    device path), for every uint8 value in every channel, on a non-contiguous batch."""
    from ssd_zoo.data.preprocess import normalize_batch
    from ssd_zoo.defaults import MEAN, STD
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    images = np.stack([np.stack([values, values.T, values[::-1]], axis=2)] * 3)[:, :, ::-1]
    assert not images.flags.c_contiguous
    host = normalize_batch(images).asnumpy()
    operators = mx.nd.image.normalize(
        mx.nd.array(images.transpose(0, 3, 1, 2), dtype='float32'),
        mean=tuple(m * 255 for m in MEAN), std=tuple(s * 255 for s in STD)).asnumpy()
    assert host.shape == (3, 3, 16, 16) and host.dtype == np.float32
    np.testing.assert_array_equal(host, operators)
    np.testing.assert_array_equal(normalize_batch(mx.nd.array(images, dtype='uint8')).asnumpy(),
                                  operators)


def test_val_transform_scales_labels():
    out, label = ValTransform(50)(np.zeros((100, 200, 3), np.uint8),
                                  np.array([[20, 10, 100, 50, 1, 0]], np.float32))
    assert out.shape == (50, 50, 3)
    np.testing.assert_allclose(label[0, :4], [5, 5, 25, 25])


def test_batches_pad_labels_and_repeat_per_seed_and_epoch(tmp_path):
    root = voc_folder(str(tmp_path / 'voc'), [[('dog', [1, 2, 30, 40])]] * 3 +
                      [[('dog', [1, 2, 30, 40]), ('cat', [5, 5, 20, 20])]])
    data = VOCFolder(root, 'train')
    images, labels = batchify([(np.zeros((4, 4, 3), np.uint8), data.label(i)) for i in (0, 3)])
    assert labels.shape == (2, 2, 6) and (labels[0, 1] == -1).all()
    loader, sampler = make_loader(data, TrainTransform(32), 2, shuffle=True, seed=5)
    first = [b[1].copy() for b in loader]
    again = [b[1].copy() for b in loader]
    sampler.set_epoch(1)
    other = [b[1].copy() for b in loader]
    assert all((a == b).all() for a, b in zip(first, again))
    assert any(a.shape != b.shape or not (a == b).all() for a, b in zip(first, other))
    assert [len(b) for b in EpochBatchSampler(10, 4, shard=(1, 2))] == [4]
