"""The paths a new user takes past the README: a model meeting a dataset of other classes
(paired by name, or refused with both lists), evaluation of one split alone, photos at their
own aspect ratio, demo folders as they are, and the refusals of surprising flags. The
scripts run in this process (``run(main)`` as from the shell), on one tiny trained model."""
import importlib.util
import json
import os
import shutil
import sys

import cv2
import numpy as np
import pytest
from test_train import TINY

from ssd_zoo.cli.options import run as run_script
from ssd_zoo.data import VOCFolder, generate_shapes
from ssd_zoo.data.loader import batchify
from ssd_zoo.data.transforms import KeepAspectTransform, aspect_size
from ssd_zoo.defaults import MEAN_PIXEL
from ssd_zoo.deploy.loading import Detector

SCRIPTS = os.path.join(os.path.dirname(__file__), '..', 'scripts')
SHAPES = ['circle', 'rectangle', 'triangle', 'star']


def script(name, capsys, *args):
    """``(exit status, stdout, stderr)`` of ``scripts/<name>.py args`` run as from a shell."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(SCRIPTS, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capsys.readouterr()
    argv0, sys.argv[0] = sys.argv[0], spec.origin  # the script's name starts its messages
    try:
        with pytest.raises(SystemExit) as done:
            run_script(module.main, [str(a) for a in args])
    finally:
        sys.argv[0] = argv0
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    """A tiny shapes model (custom dataset: its own classes.txt) and its data."""
    root = generate_shapes(str(tmp_path_factory.mktemp('shapes')), TINY)
    run_dir = str(tmp_path_factory.mktemp('run'))
    from ssd_zoo.train import TrainConfig
    from ssd_zoo.train.recipe import TrainRequest, train_model
    cfg = TrainConfig(epochs=2, batch_size=8, data_shape=96, save_dir=run_dir, num_workers=0,
                      network='plainnet', dataset='custom', dataset_root=root, seed=0)
    train_model(cfg, TrainRequest(), contexts=[__import__('mxnet').cpu()],
                progress=None)
    return root, os.path.join(run_dir, 'best')


def coco_val(voc_root, out, names, rename=None):
    """``out/annotations/instances_val2017.json`` + ``out/val2017`` from the val split of a
    VOC folder, categories listed in the order of ``names`` (only a val split: no train)."""
    rename = rename or {}
    voc = VOCFolder(voc_root, 'val')
    os.makedirs(os.path.join(out, 'annotations'))
    os.makedirs(os.path.join(out, 'val2017'))
    cat_id = {name: 10 + k for k, name in enumerate(names)}
    images, annotations = [], []
    for i in range(len(voc)):
        name = os.path.basename(voc.image_path(i))
        shutil.copy(voc.image_path(i), os.path.join(out, 'val2017', name))
        images.append({'id': i + 1, 'file_name': name, 'width': 96, 'height': 96})
        for x1, y1, x2, y2, cls, _ in voc.label(i):
            klass = voc.classes[int(cls)]
            annotations.append({'id': len(annotations) + 1, 'image_id': i + 1, 'iscrowd': 0,
                                'category_id': cat_id[rename.get(klass, klass)],
                                'bbox': [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                                'area': float((x2 - x1) * (y2 - y1))})
    with open(os.path.join(out, 'annotations', 'instances_val2017.json'), 'w') as f:
        json.dump({'images': images, 'annotations': annotations,
                   'categories': [{'id': cat_id[n], 'name': n} for n in names]}, f)
    return out


def voc07_map(out_dir):
    with open(os.path.join(out_dir, 'eval.json')) as f:
        return json.load(f)['voc07']['mAP']


# --- classes are paired by name -----------------------------------------------------------

def test_a_dataset_of_other_classes_is_refused_with_both_lists(model, tmp_path, capsys):
    root, checkpoint = model
    coco = coco_val(root, str(tmp_path / 'coco'), ['person', 'car', 'dog', 'cat'],
                    rename=dict(zip(SHAPES, ['person', 'car', 'dog', 'cat'])))
    status, _, err = script('eval_ssd', capsys, '--checkpoint', checkpoint, '--dataset', 'coco',
                            '--dataset-root', coco)
    assert status == 1 and 'Traceback' not in err
    assert 'shares no class with the model' in err
    assert 'circle, rectangle, triangle, star' in err and 'person, car, dog, cat' in err
    assert '--dataset' in err  # the fix


def test_the_same_classes_in_another_order_score_the_same(model, tmp_path, capsys):
    """Also: a COCO folder with only instances_val2017.json evaluates (no train split)."""
    root, checkpoint = model
    common = ['--checkpoint', checkpoint, '--metrics', 'voc07', '--square']
    status, out, err = script('eval_ssd', capsys, *common, '--out', tmp_path / 'own')
    assert status == 0, err
    assert 'the one %s was trained on' % checkpoint in out  # its own dataset by default
    for order in (SHAPES, SHAPES[::-1]):
        coco = coco_val(root, str(tmp_path / '-'.join(order)), order)
        status, out, err = script('eval_ssd', capsys, *common, '--dataset', 'coco',
                                  '--dataset-root', coco, '--out', tmp_path / order[0])
        assert status == 0, err
        assert voc07_map(tmp_path / order[0]) == pytest.approx(voc07_map(tmp_path / 'own'),
                                                               abs=1e-9)
    assert 'AP' not in err


def test_voc_with_only_the_test_split_evaluates_a_subset_of_its_classes(model, tmp_path,
                                                                        capsys):
    root, checkpoint = model
    voc = tmp_path / 'VOCdevkit' / 'VOC2007'
    shutil.copytree(root, voc)
    os.rename(voc / 'ImageSets' / 'Main' / 'val.txt', voc / 'ImageSets' / 'Main' / 'test.txt')
    os.remove(voc / 'ImageSets' / 'Main' / 'train.txt')
    os.remove(voc / 'classes.txt')
    args = ['--checkpoint', checkpoint, '--dataset', 'voc', '--dataset-root', voc.parent,
            '--metrics', 'voc07', '--out', tmp_path]
    status, _, err = script('eval_ssd', capsys, *args)  # VOC's 20 classes are not the model's
    assert status == 1 and 'aeroplane' in err and '--classes' in err
    status, out, err = script('eval_ssd', capsys, *args, '--classes', 'star,circle')
    assert status == 0, err
    with open(tmp_path / 'eval.json') as f:
        assert sorted(json.load(f)['voc07']['per_class']) == ['circle', 'star']


def test_fine_tuning_pairs_a_checkpoints_classes_by_name(model):
    import mxnet as mx

    from ssd_zoo.model.zoo import model_for_network
    from ssd_zoo.train.recipe import _start_from
    _, checkpoint = model
    reordered = SHAPES[::-1]
    trained = model_for_network('plainnet', 96, SHAPES, 'custom')
    trained.initialize()
    trained.load_parameters(checkpoint + '.params')
    net = model_for_network('plainnet', 96, reordered, 'custom')
    net.initialize()
    _start_from(net, checkpoint + '.params', reordered)
    x = mx.nd.random.uniform(shape=(1, 3, 96, 96))
    with mx.autograd.train_mode():
        theirs, ours = trained(x)[0].asnumpy(), net(x)[0].asnumpy()
    # column 0 is the background; each class's scores follow its name
    np.testing.assert_allclose(ours[..., 0], theirs[..., 0], rtol=1e-5, atol=1e-5)
    for k, name in enumerate(reordered):
        np.testing.assert_allclose(ours[..., k + 1], theirs[..., SHAPES.index(name) + 1],
                                   rtol=1e-5, atol=1e-5)


def test_quantize_says_which_images_calibrate(model, tmp_path, capsys):
    root, checkpoint = model
    status, out, err = script('quantize_ssd', capsys, '--checkpoint', checkpoint,
                              '--num-calib-images', '4', '--out', tmp_path / 'int8')
    assert status == 0, err
    assert 'calibrating on 4 images of --dataset custom (%s) (training split)' % root in out


# --- photos at their own aspect ratio ------------------------------------------------------

def test_aspect_size_keeps_the_short_side_and_caps_the_long():
    assert aspect_size(300, 300, 300) == (300, 300)  # a square is the square resize
    assert aspect_size(375, 500, 300) == (300, 400)
    assert aspect_size(1920, 1080, 300) == (528, 300)  # 533 rounded to a multiple of 16
    assert aspect_size(200, 1200, 300) == (150, 896)  # long side capped at 3 x 300
    assert aspect_size(10, 5000, 300, min_side=64) == (64, 896)  # never below the minimum


def test_keep_aspect_boxes_come_back_in_the_images_pixels():
    """A stub network that finds one box covering its whole input: whatever the resize, the
    box returned is the whole original image."""
    seen = []

    def whole_input(x):
        seen.append(x.shape)
        height, width = x.shape[2:]
        return (np.zeros((1, 1, 1)), np.ones((1, 1, 1)),
                np.array([[[0, 0, width, height]]], np.float32))
    det = Detector(whole_input, ['thing'], 300, 'stub')
    image = np.zeros((200, 1200, 3), np.uint8)
    for keep in (False, True):
        found = det.detect(image, keep_aspect=keep)
        np.testing.assert_allclose(found.boxes, [[0, 0, 1200, 200]], rtol=1e-6)
    assert seen == [(1, 3, 300, 300), (1, 3, 150, 896)]


def test_keep_aspect_is_refused_for_a_fixed_size_export():
    det = Detector(None, ['thing'], 300, 'model/ssd_int8', fixed_size=True)
    with pytest.raises(ValueError, match='model/ssd_int8 takes only 300x300.*--keep-aspect'):
        det.input_transform(keep_aspect=True)
    assert det.input_transform().width == 300  # the square resize still works


def test_images_of_different_shapes_batch_padded_with_the_mean_pixel():
    transform = KeepAspectTransform(96)
    label = np.array([[10, 10, 50, 40, 0, 0]], np.float32)
    wide, _ = transform(np.zeros((100, 200, 3), np.uint8), label)
    tall, tall_label = transform(np.zeros((200, 100, 3), np.uint8), label)
    np.testing.assert_allclose(tall_label[0, :4], np.array([10, 10, 50, 40]) * 0.96)
    batch = batchify([(wide, label), (tall, tall_label)])
    assert wide.shape == (96, 192, 3) and tall.shape == (192, 96, 3)
    assert batch[0].shape == (2, 192, 192, 3)
    assert (batch[0][0, 96:] == MEAN_PIXEL).all() and (batch[0][1, :, 96:] == MEAN_PIXEL).all()


def test_eval_and_demo_take_the_resize_flags(model, tmp_path, capsys):
    root, checkpoint = model
    status, out, err = script('eval_ssd', capsys, '--checkpoint', checkpoint, '--metrics',
                              'voc07', '--keep-aspect', '--out', tmp_path)
    assert status == 0, err
    assert 'own aspect ratio, short side 96' in out
    wide = tmp_path / 'wide.jpg'
    cv2.imwrite(str(wide), np.full((96, 400, 3), 200, np.uint8))
    for flag, said in (('--keep-aspect', 'own aspect ratio'), ('--square', 'squared to 96x96')):
        status, out, err = script('demo_ssd', capsys, '--checkpoint', checkpoint, wide,
                                  flag, '--out', tmp_path / 'pictures')
        assert status == 0 and said in out, err


# --- demo folders as they are --------------------------------------------------------------

def test_demo_searches_folders_recursively_with_unique_names_and_per_file_errors(
        model, tmp_path, capsys):
    from PIL import Image
    _, checkpoint = model
    photos = tmp_path / 'photos'
    (photos / 'x' / 'sub').mkdir(parents=True)
    (photos / 'y').mkdir()
    picture = np.full((64, 80, 3), 120, np.uint8)
    for path in ('x/img.jpg', 'x/img.png', 'y/img.jpg', 'x/sub/deep.jpg'):
        cv2.imwrite(str(photos / path), picture)
    Image.fromarray(picture).save(photos / 'x' / 'anim.gif')  # OpenCV cannot read GIF
    (photos / 'x' / 'broken.jpg').write_bytes(b'not a jpeg')
    (photos / 'x' / 'notes.txt').write_text('hello')
    out_dir = tmp_path / 'out'
    status, out, err = script('demo_ssd', capsys, '--checkpoint', checkpoint, photos / 'x',
                              photos / 'y', '--thresh', '0.0', '--out', out_dir)
    assert status == 1  # one image could not be read, and the others were still drawn
    assert 'broken.jpg' in err and 'skipped' in err and 'Traceback' not in err
    assert 'not images, left alone: 1 .txt' in out
    written = sorted(os.path.relpath(os.path.join(d, f), out_dir)
                     for d, _, files in os.walk(out_dir) for f in files)
    assert written == ['x/anim.png', 'x/img.jpg.png', 'x/img.png.png', 'x/sub/deep.png',
                       'y/img.png']


# --- refusals of surprising flags ----------------------------------------------------------

@pytest.mark.parametrize('flags,status,says', [
    (['--resume'], 2, '--resume-or-start'),
    (['--epochs', '0'], 2, 'at least 1'),
    (['--cache-images', '-1'], 2, '--cache-images -1: give the GiB'),
    (['--dataset-root', 'data/shape'], 1, 'data/shape does not exist'),
    (['--dataset', 'custom', '--dataset-root', 'nowhere'], 1, 'nowhere does not exist'),
])
def test_train_refuses_what_would_silently_surprise(tmp_path, capsys, monkeypatch, flags,
                                                    status, says):
    monkeypatch.chdir(tmp_path)
    code, _, err = script('train_ssd', capsys, '--save-prefix', tmp_path / 'run', *flags)
    assert code == status and says in err and 'Traceback' not in err
    assert not os.path.exists(tmp_path / 'data')  # no dataset generated on the way


def test_ssd_zoo_list_with_no_match_says_so(capsys):
    from ssd_zoo.cli import main
    assert main(['list', 'foo']) == 2
    assert "no zoo model name contains 'foo'" in capsys.readouterr().err
    assert main(['list', 'resnet50']) == 0


def test_reset_class_before_the_first_forward_as_gluoncv_accepts():
    import mxnet as mx

    import ssd_zoo
    net = ssd_zoo.get_model('ssd_300_vgg16_atrous_voc', pretrained_base=False)
    net.initialize()  # deferred: no parameter has a shape yet
    net.reset_class(['person', 'thing'], reuse_weights=['person'])
    ids, _, _ = net(mx.nd.zeros((1, 3, 300, 300)))
    assert ids.shape == (1, 100, 1) and net.classes == ['person', 'thing']


def test_one_opencv_package_is_installed():
    """gluoncv requires opencv-python; a second, headless one overwrites the same cv2 files."""
    here = os.path.join(os.path.dirname(__file__), '..')
    for path in ('requirements/base.txt', 'setup.cfg'):
        with open(os.path.join(here, path)) as f:
            packages = {line.split('<')[0].split('>')[0].split('=')[0].strip()
                        for line in f if line.strip().startswith('opencv')}
        assert packages == {'opencv-python'}, (path, packages)


# --- one line for each failure a user can cause --------------------------------------------

@pytest.mark.parametrize('name,args,says', [
    ('train_ssd', ['--kvstore', 'dist_sync'], 'scripts/launch.py'),
    ('train_ssd', ['--network', 'vgg16_reduced', '--data-shape', '64', '--dataset', 'custom',
                   '--dataset-root', 'shapes'],
     "data shape 64 is too small for the MXNet example's vgg16_reduced"),
    ('deploy', ['--prefix', 'nowhere/ssd', '--epoch', '3'], 'nowhere/ssd-symbol.json is missing'),
    ('eval_ssd', ['--onnx', 'README.md'], 'not an .onnx file'),
])
def test_user_errors_end_in_one_line_naming_the_thing_and_the_fix(name, args, says, capsys,
                                                                  tmp_path, monkeypatch):
    generate_shapes(str(tmp_path / 'shapes'), TINY)
    monkeypatch.delenv('DMLC_ROLE', raising=False)
    (tmp_path / 'README.md').write_text('not a model')
    monkeypatch.chdir(tmp_path)
    status, _, err = script(name, capsys, *args)
    last = err.replace('\r', '\n').strip().splitlines()[-1]  # after any progress bar
    assert status in (1, 2) and last.startswith(name + '.py: ') and says in last, err
    assert 'Traceback' not in err


@pytest.mark.parametrize('args,says', [
    (['--size', '64'], 'needs at least 257 pixels a side'),
    (['--layer', '9', '--out', 'a.png'], 'has 6 heads, numbered 0 to 5'),
])
def test_ssd_zoo_anchors_refuses_sizes_and_layers_it_has_not(args, says, capsys):
    from ssd_zoo.cli import main
    assert main(['anchors', 'ssd_300_vgg16_atrous_voc'] + args) == 2
    assert says in capsys.readouterr().err


def test_a_custom_zoo_model_evaluates_with_classes(model, tmp_path, capsys):
    """--model ssd_96..._custom needs its class names: eval's --classes gives them."""
    import mxnet as mx

    from ssd_zoo.model.zoo import get_model
    root, checkpoint = model
    net = get_model('ssd_300_plainnet_custom', pretrained_base=False, classes=SHAPES)
    net.initialize()
    net(mx.nd.zeros((1, 3, 300, 300)))
    net.save_parameters(str(tmp_path / 'ssd_300_plainnet_custom.params'))
    common = ['--model', 'ssd_300_plainnet_custom', '--root', tmp_path, '--dataset', 'custom',
              '--dataset-root', root, '--metrics', 'voc07', '--out', tmp_path]
    status, _, err = script('eval_ssd', capsys, *common)
    assert status == 1 and 'custom model' in err and '--classes' in err
    status, out, err = script('eval_ssd', capsys, *common, '--classes', ','.join(SHAPES))
    assert status == 0 and 'validation images' in out, err


@pytest.mark.parametrize('name', ['export_ssd', 'quantize_ssd'])
def test_converters_refuse_an_export_saying_what_to_convert(name, capsys, tmp_path):
    status, _, err = script(name, capsys, '--symbol', 'model/ssd', '--out', tmp_path / 'x')
    assert status == 2 and 'already an exported graph' in err and '--checkpoint' in err
    status, out, _ = script(name, capsys, '--help')
    usage = out.split('\n\n')[0]  # the docstring may say how eval loads the result
    assert status == 0 and '--checkpoint' in usage and '--symbol' not in usage


@pytest.mark.parametrize('flag,value,says', [
    ('--lr', '-1', 'must be above 0, got -1'),
    ('--lr', 'nan', "'nan' is not a finite number"),
    ('--warmup-epochs', '-0.5', 'must be at least 0'),
    ('--batch-size', '0', 'must be at least 1'),
    ('--momentum', '1.5', 'must be between 0 and 1'),
    ('--val-interval', '0', 'must be at least 1'),
    ('--data-shape', '0', 'must be at least 16'),
    ('--start-epoch', '-2', 'must be at least 0'),
    ('--lr-decay', '0', 'must be above 0'),
    ('--wd', 'x', "'x' is not a number"),
])
def test_train_refuses_impossible_numbers_at_parse_time_naming_the_flag(tmp_path, capsys, flag,
                                                                         value, says):
    code, _, err = script('train_ssd', capsys, '--save-prefix', tmp_path / 'run', flag, value)
    assert code == 2 and 'argument %s: %s' % (flag, says) in err and 'Traceback' not in err
    assert not os.path.exists(tmp_path / 'run')  # refused before anything is written


@pytest.mark.parametrize('name,flags,says', [
    ('export_ssd', ['--checkpoint', 'x', '--data-shape', '0'], 'argument --data-shape: must be '
                                                                'at least 16, got 0'),
    ('eval_ssd', ['--checkpoint', 'x', '--max-size', '-5'], 'argument --max-size: must be at '
                                                            'least 16, got -5'),
    ('demo_ssd', ['--checkpoint', 'x', 'a.jpg', '--thresh', '2'], 'argument --thresh: must be '
                                                                  'between 0 and 1, got 2'),
])
def test_the_other_commands_refuse_impossible_numbers_naming_the_flag(capsys, name, flags,
                                                                      says):
    code, _, err = script(name, capsys, *flags)
    assert code == 2 and says in err and 'Traceback' not in err
