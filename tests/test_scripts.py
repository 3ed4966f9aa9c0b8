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
              'custom', '--dataset-root', root, '--batch-size', '8', '--epochs', '2',
              '--num-workers', '0', '--cpus', '2', '--save-prefix', run_dir)
    assert 'best validation voc07 mAP' in out.stdout
    return root, run_dir


def test_eval_export_and_demo_scripts(trained, tmp_path):
    root, run_dir = trained
    checkpoint = os.path.join(run_dir, 'best')
    out = run('eval_ssd.py', '--checkpoint', checkpoint, '--dataset', 'custom',
              '--dataset-root', root, '--metrics', 'voc07', 'coco', '--out', str(tmp_path))
    assert 'mAP' in out.stdout and (tmp_path / 'pr_curves.png').is_file()
    scores = json.load(open(tmp_path / 'eval.json'))
    prefix = str(tmp_path / 'export' / 'ssd')
    run('export_ssd.py', '--checkpoint', checkpoint, '--out', prefix)
    assert os.path.isfile(prefix + '-symbol.json') and os.path.isfile(prefix + '-model.json')
    out = run('eval_ssd.py', '--symbol', prefix, '--dataset', 'custom', '--dataset-root', root,
              '--metrics', 'voc07', '--out', str(tmp_path / 'exported'))
    exported = json.load(open(tmp_path / 'exported' / 'eval.json'))
    assert abs(exported['voc07']['mAP'] - scores['voc07']['mAP']) < 1e-6
    images = os.path.join(root, 'JPEGImages')
    out = run('demo_ssd.py', '--symbol', prefix, images, '--thresh', '0.0', '--out',
              str(tmp_path / 'pictures'))
    assert 'detections; pictures in' in out.stdout
    assert len(os.listdir(tmp_path / 'pictures')) == len(os.listdir(images))


def test_amp_on_cpu_is_refused_clearly():
    out = run('train_ssd.py', '--amp', check=False)
    assert out.returncode != 0 and '--amp needs a GPU' in out.stderr


def test_unknown_network_is_refused_with_candidates(trained):
    root, run_dir = trained
    out = run('train_ssd.py', '--network', 'resnet5', '--data-shape', '96', '--dataset',
              'custom', '--dataset-root', root, '--epochs', '1', check=False)
    assert out.returncode != 0 and 'resnet5' in out.stderr
