"""The layout's rules, checked on the source: small functions, the zoo independent of the
legacy API, scripts that import no other script, private MXNet access in one module, and the
old module paths still importable."""
import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), '..')
PACKAGE = os.path.join(ROOT, 'ssd_zoo')
SCRIPTS = os.path.join(ROOT, 'scripts')


def python_files(folder):
    for base, _, names in os.walk(folder):
        for name in sorted(names):
            if name.endswith('.py'):
                yield os.path.join(base, name)


def parse(path):
    with open(path) as f:
        return ast.parse(f.read(), path)


def test_no_function_in_the_package_is_longer_than_80_lines():
    long = []
    for path in python_files(PACKAGE):
        for node in ast.walk(parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append('%s:%d %s (%d lines)' % (os.path.relpath(path, ROOT),
                                                         node.lineno, node.name, length))
    assert not long, long


def test_building_a_zoo_model_imports_nothing_of_the_legacy_api():
    code = ('import sys, ssd_zoo\n'
            'net = ssd_zoo.get_model("ssd_300_plainnet_custom", classes=["a"], '
            'pretrained_base=False)\n'
            'net.initialize()\n'
            'print([m for m in sys.modules if m.startswith("ssd_zoo.symbol") '
            'or m.startswith("ssd_zoo.cli")])\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == '[]'


def test_no_script_imports_another_script():
    scripts = {os.path.splitext(n)[0] for n in os.listdir(SCRIPTS) if n.endswith('.py')}
    offenders = []
    for path in python_files(SCRIPTS):
        for node in ast.walk(parse(path)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split('.')[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module.split('.')[0]]
            offenders += ['%s imports %s' % (os.path.basename(path), n) for n in names
                          if n in scripts]
    assert not offenders, offenders
    with open(os.path.join(SCRIPTS, 'run_main.py')) as f:
        assert 'sys.path' not in f.read()


def test_private_attributes_of_other_objects_are_used_only_in_compat():
    """``x._name`` of an MXNet or GluonCV object (a private name ssd_zoo itself does not
    define) appears only in ssd_zoo/compat.py, where each says why."""
    trees = {path: parse(path) for path in python_files(PACKAGE)}
    own = {node.attr for tree in trees.values() for node in ast.walk(tree)
           if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
           and isinstance(node.value, ast.Name) and node.value.id == 'self'}
    found = []
    for path, tree in trees.items():
        if path.endswith('compat.py'):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith('_') \
                    and not node.attr.startswith('__') and node.attr not in own \
                    and not (isinstance(node.value, ast.Name) and node.value.id in
                             ('self', 'cls', 'super')):
                found.append('%s:%d .%s' % (os.path.relpath(path, ROOT), node.lineno,
                                            node.attr))
    assert not found, found


def test_shared_numbers_come_from_defaults():
    """The Gluon models and the legacy API read one table (the legacy keeps its own NMS)."""
    import inspect

    from ssd_zoo import defaults
    from ssd_zoo.model.decode import Decoder
    from ssd_zoo.model.ssd import SSD
    from ssd_zoo.symbol import symbol_builder, symbol_factory
    from ssd_zoo.train.loss import SSDMultiBoxLoss
    assert inspect.signature(SSD).parameters['nms_thresh'].default == defaults.NMS_THRESH
    assert inspect.signature(Decoder).parameters['nms_thresh'].default == defaults.NMS_THRESH
    assert defaults.NMS_THRESH == 0.45 and defaults.LEGACY_NMS_THRESH == 0.5
    legacy = inspect.signature(symbol_builder.get_symbol).parameters['nms_thresh'].default
    assert legacy == defaults.LEGACY_NMS_THRESH
    loss = inspect.signature(SSDMultiBoxLoss).parameters
    assert loss['overlap_threshold'].default == defaults.MATCH_IOU == 0.5
    assert loss['negative_ratio'].default == defaults.NEGATIVE_RATIO == 3.0
    train = symbol_factory.get_symbol_train('vgg16_reduced', 300, num_classes=2)
    target = [n for n in json.loads(train.tojson())['nodes']
              if n['op'] == '_contrib_MultiBoxTarget']
    attrs = target[0]['attrs']
    assert float(attrs['overlap_threshold']) == defaults.MATCH_IOU
    assert float(attrs['negative_mining_ratio']) == defaults.NEGATIVE_RATIO
    assert eval(attrs['variances']) == defaults.VARIANCES


@pytest.mark.parametrize('old,new,name', [
    ('ssd_zoo.export', 'ssd_zoo.deploy.export', 'export_model'),
    ('ssd_zoo.export', 'ssd_zoo.deploy.export', 'load_module'),
    ('ssd_zoo.onnx_export', 'ssd_zoo.deploy.onnx_export', 'export_onnx'),
    ('ssd_zoo.quantize', 'ssd_zoo.deploy.quantize', 'quantize_int8'),
    ('ssd_zoo.loading', 'ssd_zoo.deploy.loading', 'load_detector'),
    ('ssd_zoo.loading', 'ssd_zoo.deploy.model_info', 'write_model_info'),
    ('ssd_zoo.agreement', 'ssd_zoo.deploy.agreement', 'detection_mismatches'),
])
def test_old_module_paths_still_work(old, new, name):
    import importlib
    assert getattr(importlib.import_module(old), name) is \
        getattr(importlib.import_module(new), name)
    from ssd_zoo.deploy.export import load_module
    from ssd_zoo.export import import_module
    assert import_module is load_module
