"""The command-line scripts end to end on a tiny generated dataset: train (two CPU contexts),
evaluate, export, detect; and their refusals."""
import json
import os
import subprocess
import sys

import pytest
from test_train import TINY

from ssd_zoo.data import generate_shapes

SCRIPTS = os.path.join(os.path.dirname(__file__), '..', 'scripts')


def run(script, *args, check=True):
    result = subprocess.run([sys.executable, os.path.join(SCRIPTS, script)] + list(args),
                            capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError('%s failed:\n%s' % (script, result.stderr[-3000:]))
    return result


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = generate_shapes(str(tmp_path_factory.mktemp('shapes')), TINY)
    run_dir = str(tmp_path_factory.mktemp('run'))
    out = run('train_ssd.py', '--network', 'plainnet', '--data-shape', '96', '--dataset',
              'custom', '--dataset-root', root, '--batch-size', '8', '--epochs', '4',
              '--num-workers', '0', '--cpus', '2', '--save-prefix', run_dir)
    assert 'best validation voc07 mAP' in out.stdout
    return root, run_dir


@pytest.fixture(scope='module')
def checkpoint_map(trained, tmp_path_factory):
    """eval_ssd.py on the checkpoint: VOC07 and COCO, PR curves and results JSON written."""
    root, run_dir = trained
    out_dir = tmp_path_factory.mktemp('eval')
    out = run('eval_ssd.py', '--checkpoint', os.path.join(run_dir, 'best'), '--dataset',
              'custom', '--dataset-root', root, '--metrics', 'voc07', 'coco', '--out',
              str(out_dir))
    assert 'mAP' in out.stdout and (out_dir / 'pr_curves.png').is_file()
    return json.load(open(out_dir / 'eval.json'))['voc07']['mAP']


def test_amp_flag_is_gone():
    """--amp was parsed but never reached training; it is removed, and argparse says so."""
    out = run('train_ssd.py', '--amp', check=False)
    assert out.returncode == 2 and 'unrecognized arguments: --amp' in out.stderr


def test_unknown_network_is_refused_with_candidates(trained):
    root, run_dir = trained
    out = run('train_ssd.py', '--network', 'resnet5', '--data-shape', '96', '--dataset',
              'custom', '--dataset-root', root, '--epochs', '1', check=False)
    assert out.returncode != 0 and 'resnet5' in out.stderr


def test_train_an_example_network_from_a_module_checkpoint(trained, tmp_path):
    """--network mobilenet is the MXNet example's network; --pretrained/--epoch load a Module
    checkpoint; the trained checkpoint evaluates through the usual loading path."""
    import mxnet as mx

    from ssd_zoo.symbol import symbol_factory
    from ssd_zoo.symbol.gluon import legacy_ssd
    root, _ = trained
    symbol = symbol_factory.get_symbol_train('mobilenet', 96, num_classes=4)
    mod = mx.mod.Module(symbol, label_names=('label',))
    mod.bind([('data', (1, 3, 96, 96))], [('label', (1, 4, 5))])
    mod.init_params(mx.init.Xavier())
    mod.save_checkpoint(str(tmp_path / 'mobilenet'), 2)
    run_dir = str(tmp_path / 'run')
    out = run('train_ssd.py', '--network', 'mobilenet', '--data-shape', '96', '--dataset',
              'custom', '--dataset-root', root, '--batch-size', '8', '--epochs', '1',
              '--pretrained', str(tmp_path / 'mobilenet'), '--epoch', '2',
              '--save-prefix', run_dir)
    body = legacy_ssd('mobilenet', 96, ['a']).features.body  # every parameter of the body
    assert 'loaded %d base-network parameters' % len(body.params.keys()) in out.stdout
    assert 'legacy mobilenet 96' in out.stdout
    out = run('eval_ssd.py', '--checkpoint', os.path.join(run_dir, 'best'), '--dataset',
              'custom', '--dataset-root', root, '--metrics', 'voc07', '--out', str(tmp_path))
    assert 'mAP' in out.stdout
    out = run('train_ssd.py', '--network', 'resnet50_v1', '--pretrained', 'x', '--dataset',
              'custom', '--dataset-root', root, check=False)
    assert out.returncode != 0 and 'use --pretrained-base' in out.stderr


def test_quantize_without_calibration_images_fails_clearly(trained, tmp_path):
    root, run_dir = trained
    out = run('quantize_ssd.py', '--checkpoint', os.path.join(run_dir, 'best'), '--dataset',
              'custom', '--dataset-root', root, '--num-calib-images', '0',
              '--out', str(tmp_path / 'none'), check=False)
    assert out.returncode == 1 and 'calibration data is empty' in out.stderr
    assert 'Traceback' not in out.stderr


EXPORTS = {
    'symbol': ('export_ssd.py', []),
    'fixed-size': ('export_ssd.py', ['--fixed-size']),
    'uint8-input': ('export_ssd.py', ['--fixed-size', '--preprocess']),
    'onnx': ('export_ssd.py', ['--format', 'onnx']),
    'int8': ('quantize_ssd.py', ['--num-calib-images', '8', '--eval']),
    'bf16': ('quantize_ssd.py', ['--dtype', 'bf16']),
}


# fixed-size alone runs with `make test-all`: uint8-input is a fixed-size export too
@pytest.mark.parametrize('kind', [pytest.param(k, marks=pytest.mark.slow) if k == 'fixed-size'
                                  else k for k in sorted(EXPORTS)])
def test_every_export_loads_in_eval_and_demo_as_it_is(trained, checkpoint_map, tmp_path, kind):
    """Each export writes its model description; eval_ssd.py and demo_ssd.py read the export
    with no other step, and score it like the checkpoint it came from."""
    from ssd_zoo.deploy import bf16_supported
    if kind == 'bf16' and not bf16_supported():
        pytest.skip('this CPU has no BF16 instructions')
    root, run_dir = trained
    checkpoint = os.path.join(run_dir, 'best')
    data = ['--dataset', 'custom', '--dataset-root', root]
    script, flags = EXPORTS[kind]
    prefix = str(tmp_path / 'export' / kind)
    out = run(script, '--checkpoint', checkpoint, '--out', prefix, *flags,
              *(data if script == 'quantize_ssd.py' else []))
    if kind == 'onnx':
        assert 'exported %s.onnx (multibox decoding)' % prefix in out.stdout
    if kind == 'int8':  # --eval: the layers kept FP32, and both mAPs
        assert 'layers kept FP32' in out.stdout and 'INT8: VOC07 mAP' in out.stdout
        assert json.load(open(prefix + '-model.json'))['precision'] == 'int8'
    source = ['--onnx', prefix + '.onnx'] if kind == 'onnx' else ['--symbol', prefix]
    info = json.load(open(prefix + '-model.json'))
    assert info['classes'] == ['circle', 'rectangle', 'triangle', 'star']
    assert info['data_shape'] == 96
    assert (info['dataset'], info['dataset_root']) == ('custom', root)  # what it was trained on
    out_dir = str(tmp_path / 'eval')
    run('eval_ssd.py', *source, *data, '--metrics', 'voc07', '--out', out_dir)
    maps = {'checkpoint': checkpoint_map,
            kind: json.load(open(os.path.join(out_dir, 'eval.json')))['voc07']['mAP']}
    assert maps['checkpoint'] > 0.005
    # the same graph scores the same; fused predictors (fixed size) and ONNX Runtime round
    # differently (~1e-6 on a score) and this briefly trained model's scores are near-tied:
    # at this mAP one re-ranked detection moves it by ~0.003, hence the absolute floor. (ONNX
    # once lost 0.019 -> 0.002 here: its extra layers' BatchNorm used the stored gamma that
    # MXNet's fix_gamma ignores.) INT8/BF16 round more
    tolerance = {'symbol': 1e-6 / maps['checkpoint'], 'int8': 0.5, 'bf16': 0.5}.get(kind, 0.1)
    floor = 0.0 if kind == 'symbol' else 0.005
    assert abs(maps[kind] - maps['checkpoint']) <= max(tolerance * maps['checkpoint'],
                                                       floor), maps
    images = os.path.join(root, 'JPEGImages')
    pictures = str(tmp_path / 'pictures')
    out = run('demo_ssd.py', *source, os.path.join(images, '000000.jpg'),
              os.path.join(images, '000001.jpg'), '--thresh', '0.0', '--out', pictures)
    assert 'detections in 2 images' in out.stdout and len(os.listdir(pictures)) == 2
