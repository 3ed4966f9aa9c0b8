"""One registry and one model description: every name is known whatever was imported, the
weights records are GluonCV's, and checkpoints and exports reload from their recorded spec."""
import json
import os
import subprocess
import sys
import warnings

import mxnet as mx
import numpy as np
import pytest

import ssd_zoo
from ssd_zoo.model.published import PUBLISHED
from ssd_zoo.model.registry import LEGACY_NETWORKS, REGISTRY
from ssd_zoo.model.spec import SSDSpec


def fresh_python(code):
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_every_registered_name_builds_in_a_process_that_imports_only_ssd_zoo():
    code = (
        'import sys, ssd_zoo\n'
        'from ssd_zoo.model.zoo import model_for_network\n'
        'assert not [m for m in sys.modules if m.startswith("ssd_zoo.symbol")]\n'
        'built = 0\n'
        'for name in ssd_zoo.list_models():\n'
        '    classes = ["a", "b"] if name.endswith("_custom") else None\n'
        '    net = ssd_zoo.get_model(name, classes=classes, pretrained_base=False)\n'
        '    assert net.spec == ssd_zoo.model_spec(name)\n'
        '    built += 1\n'
        'for name in ssd_zoo.REGISTRY.names("legacy"):\n'
        '    size = 512 if name in ("inceptionv3", "resnet101", "resnet152") else 300\n'
        '    net = model_for_network(name, size, ["a"])\n'
        '    assert net.spec.family == "legacy" and net.spec.network == name\n'
        '    built += 1\n'
        'print(built)\n')
    built = int(fresh_python(code).split()[-1])
    assert built == len(ssd_zoo.list_models()) + len(LEGACY_NETWORKS)


def test_legacy_names_are_the_symbol_factory_configurations():
    from ssd_zoo.symbol import symbol_factory
    assert set(LEGACY_NETWORKS) == set(symbol_factory.NETWORKS)


def test_list_models_pretrained_lists_exactly_the_names_with_a_weights_record():
    recorded = {r.model for r in PUBLISHED}
    assert set(ssd_zoo.list_models(pretrained=True)) == recorded
    assert set(ssd_zoo.list_models(pretrained=False)) == set(ssd_zoo.list_models()) - recorded
    assert all(ssd_zoo.is_model(name) for name in recorded)


def test_weights_records_are_gluoncvs_published_files():
    from gluoncv.model_zoo import model_store

    from ssd_zoo.compat import gluoncv_sha1_table
    table = gluoncv_sha1_table()
    gluoncv_ssd = {k for k in table if k.startswith('ssd_')}
    assert {r.model for r in PUBLISHED} == gluoncv_ssd
    for record in PUBLISHED:
        assert record.sha1 == table[record.model]
        assert record.file_name == '%s-%s.params' % (record.model,
                                                     model_store.short_hash(record.model))
        spec = ssd_zoo.model_spec(record.model)
        assert record.input_size == spec.base_size
        assert record.dataset == record.model.rsplit('_', 1)[1]


def test_list_models_filters_and_excludes():
    assert ssd_zoo.list_models('vgg16', pretrained=True, exclude='coco') == [
        'ssd_300_vgg16_atrous_voc', 'ssd_512_vgg16_atrous_voc']
    assert ssd_zoo.list_models('ssd_300_*_voc', exclude=['*vgg*', 'mobilenet']) == [
        'ssd_300_resnet34_v1b_voc']
    assert ssd_zoo.is_model('ssd_512_mobilenet1_0_voc') and not ssd_zoo.is_model('ssd_1_x')


def test_unknown_names_fail_with_the_closest():
    with pytest.raises(ValueError, match='ssd_512_resnet50_v1_voc'):
        ssd_zoo.get_model('ssd_512_resnet50_voc')
    with pytest.raises(ValueError, match='vgg16_reduced'):
        REGISTRY.get('legacy', 'vgg16_reduce')


def test_spec_round_trips_through_json_and_refuses_what_it_cannot_read():
    spec = ssd_zoo.model_spec('ssd_300_mobilenet1.0_lite_coco')
    again = SSDSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.head.kernel == 1 and again.anchors.style == 'lite'
    with pytest.raises(ValueError, match='newer'):
        SSDSpec.from_dict(dict(spec.to_dict(), spec_version=99))
    with pytest.raises(ValueError, match="unknown fields \\['colour'\\]"):
        SSDSpec.from_dict(dict(spec.to_dict(), colour='red'))


def test_set_nms_is_part_of_the_recorded_spec():
    from ssd_zoo.model.zoo import model_for_network
    net = ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], pretrained_base=False,
                            nms_thresh=0.3)
    assert net.spec.decoding.nms_thresh == 0.3
    legacy = model_for_network('resnet18', 300, ['a'])
    for model in (net, legacy):
        model.set_nms(0.6, 200, 50, mode='per_class', score_thresh=0.2)
        rebuilt = ssd_zoo.build_ssd(model.spec, ['a'])
        assert rebuilt.nms_settings == model.nms_settings


def test_a_spec_composed_on_your_own_block_says_so_when_rebuilt_without_it():
    from ssd_zoo.backbones.plain import plainnet
    net = ssd_zoo.get_ssd(plainnet(), 300, classes=['a'])
    with pytest.raises(ValueError, match='block of your own'):
        ssd_zoo.build_ssd(net.spec, ['a'])


RELOAD = '''
import json, sys
import mxnet as mx, numpy as np
from ssd_zoo.deploy import load_detector
kind, prefix = sys.argv[1], sys.argv[2]
det = load_detector(**{kind: prefix})
ids, scores, boxes = det.predict(np.full((1, 96, 96, 3), 100, np.uint8))
print(json.dumps({'spec': det.info.get('spec'), 'scores': scores[0, :5, 0].tolist()}))
'''


def reload_in_fresh_process(kind, prefix):
    out = subprocess.run([sys.executable, '-c', RELOAD, kind, prefix], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def small_composed_net():
    net = ssd_zoo.get_ssd('plainnet', 96, classes=['a', 'b'], nms_thresh=0.4)
    net.initialize()
    net(mx.nd.zeros((1, 3, 96, 96)))
    return net


def scores_of(net):
    from ssd_zoo.data.preprocess import normalize_batch
    _, scores, _ = net(normalize_batch(np.full((1, 96, 96, 3), 100, np.uint8)))
    return scores.asnumpy()[0, :5, 0]


@pytest.mark.parametrize('source', ['zoo', 'composed'])
def test_a_checkpoint_reloads_from_its_recorded_spec_alone(tmp_path, source):
    from ssd_zoo.model.spec import spec_of
    if source == 'zoo':
        net = ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a', 'b'],
                                pretrained_base=False)
        net.initialize()
        net(mx.nd.zeros((1, 3, 96, 96)))
    else:
        net = small_composed_net()
    prefix = str(tmp_path / 'best')
    net.save_parameters(prefix + '.params')
    # a network name nothing knows: only the spec can rebuild the model
    with open(prefix + '.json', 'w') as f:
        json.dump({'model': {'network': 'no-such-network', 'data_shape': 96,
                             'classes': ['a', 'b'], 'spec': spec_of(net)}}, f)
    got = reload_in_fresh_process('checkpoint', prefix)
    assert SSDSpec.from_dict(got['spec']) == net.spec
    np.testing.assert_allclose(got['scores'], scores_of(net), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('kind', ['symbol', 'onnx'])
def test_every_export_records_its_spec_and_reloads_in_a_fresh_process(tmp_path, kind):
    from ssd_zoo.deploy import export_model
    net = small_composed_net()
    prefix = str(tmp_path / 'ssd')
    if kind == 'symbol':
        export_model(net, prefix, input_shape=(1, 3, 96, 96))
        source = prefix
    else:
        pytest.importorskip('onnxruntime')
        from ssd_zoo.deploy import export_onnx
        source = export_onnx(net, prefix + '.onnx', input_shape=(1, 3, 96, 96))
    got = reload_in_fresh_process(kind, source)
    assert SSDSpec.from_dict(got['spec']) == net.spec
    assert ssd_zoo.build_ssd(SSDSpec.from_dict(got['spec']), ['a', 'b']).nms_settings == \
        net.nms_settings
    np.testing.assert_allclose(got['scores'], scores_of(net), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize('old,new', [('ssd_zoo.zoo', 'ssd_zoo.model.zoo'),
                                     ('ssd_zoo.ssd', 'ssd_zoo.model.ssd'),
                                     ('ssd_zoo.export', 'ssd_zoo.deploy.export')])
def test_old_module_paths_warn_naming_the_new_one(old, new):
    code = ('import warnings, importlib\n'
            'import ssd_zoo\n'
            'warnings.simplefilter("error", DeprecationWarning)\n'
            'try:\n'
            '    importlib.import_module(%r)\n'
            'except DeprecationWarning as w:\n'
            '    print(w)\n' % old)
    with warnings.catch_warnings():
        out = fresh_python(code)
    assert '%s moved to %s' % (old, new) in out and '0.4.0' in out
    assert os.path.isfile(os.path.join(os.path.dirname(__file__), '..', 'CHANGELOG.md'))


def test_the_zoo_table_is_measured_and_the_readme_shows_it():
    from ssd_zoo.cli.zoo_table import format_table, measure_model, read_results
    rows = read_results()
    assert [r['model'] for r in rows] == ssd_zoo.list_models()
    plain = next(r for r in rows if r['model'] == 'ssd_300_plainnet_custom')
    assert plain == measure_model('ssd_300_plainnet_custom')
    assert plain['anchors'] == 8744
    with open(os.path.join(os.path.dirname(__file__), '..', 'README.md')) as f:
        assert format_table(rows, markdown=True) in f.read()


def test_the_specs_input_normalization_reaches_every_consumer(tmp_path):
    """A spec with mean = std = 0.5 (SSDLite's [-1, 1]) is what the Detector, evaluation,
    the training step and a uint8-input export feed the network."""
    from ssd_zoo.data.preprocess import normalize_batch
    from ssd_zoo.deploy import Detector, export_model, load_detector
    from ssd_zoo.model.spec import input_normalization
    from ssd_zoo.train.step import _normalized_parts
    net = ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], pretrained_base=False)
    half = ssd_zoo.build_ssd(net.spec.replace(input={'mean': (.5,) * 3, 'std': (.5,) * 3}),
                             ['a'])
    half.initialize()
    images = np.random.default_rng(0).integers(0, 256, (1, 96, 96, 3)).astype(np.uint8)
    assert input_normalization(half) == {'mean': (.5,) * 3, 'std': (.5,) * 3}
    assert input_normalization(object())['mean'] == ssd_zoo.defaults.MEAN
    x = normalize_batch(images, mean=(.5,) * 3, std=(.5,) * 3)
    np.testing.assert_allclose(x.asnumpy(), images.transpose(0, 3, 1, 2) / 127.5 - 1,
                               atol=1e-6)
    np.testing.assert_array_equal(_normalized_parts(images, [mx.cpu()],
                                                    input_normalization(half))[0].asnumpy(),
                                  x.asnumpy())
    want = half(x)[1].asnumpy()
    np.testing.assert_array_equal(Detector(half, ['a'], 96, 'test').predict(images)[1], want)
    export_model(half, str(tmp_path / 'u8'), input_shape=(1, 3, 96, 96), preprocess=True)
    got = load_detector(symbol=str(tmp_path / 'u8')).predict(images)[1]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
