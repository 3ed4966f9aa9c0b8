"""Weights the GluonCV way, against a model store this test serves on 127.0.0.1: download,
SHA-1 check, refusal of a corrupted file naming both hashes, a prompt offline error, and the
downloaded weights giving GluonCV's detections."""
import functools
import hashlib
import http.server
import os
import threading
import time
import zipfile

import mxnet as mx
import pytest
from conftest import closed_port, gluoncv_model
from helpers.params import publish
from test_weights import compare_top100

import ssd_zoo
from ssd_zoo.model.model_store import (
    ChecksumError,
    WeightsUnavailableError,
    get_model_file,
    sha1_of,
)

NAME = 'ssd_512_mobilenet1.0_voc'


@pytest.fixture(scope='module')
def published(tmp_path_factory):
    """Seeded random GluonCV weights, their SHA-1, and the input they are compared on."""
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 512, 512))
    reference = gluoncv_model(NAME, x)
    path = str(tmp_path_factory.mktemp('weights') / 'w.params')
    reference.save_parameters(path)
    return reference, path, sha1_of(path), x


@pytest.fixture()
def store(tmp_path, published, monkeypatch):
    """A GluonCV-layout store (``gluon/models/<name>-<sha1[:8]>.zip``) on 127.0.0.1; the table
    entry of NAME set to the served file's SHA-1. Yields (serve_dir, zip path, counter)."""
    _, path, sha1, _ = published
    publish(monkeypatch, NAME, sha1)
    serve = tmp_path / 'serve'
    models = serve / 'gluon' / 'models'
    models.mkdir(parents=True)
    file_name = '%s-%s' % (NAME, sha1[:8])
    zip_path = str(models / (file_name + '.zip'))
    with zipfile.ZipFile(zip_path, 'w') as archive:
        archive.write(path, file_name + '.params')
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Handler, directory=str(serve)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:%d/' % server.server_port)
    yield zip_path, file_name, requests
    server.shutdown()
    server.server_close()


def test_pretrained_true_downloads_checks_and_gives_gluoncvs_detections(published, store,
                                                                        tmp_path):
    reference, _, sha1, x = published
    _, file_name, requests = store
    root = tmp_path / 'models'
    ours = ssd_zoo.get_model(NAME, pretrained=True, root=str(root))
    assert requests == ['/gluon/models/%s.zip' % file_name]
    assert sha1_of(str(root / (file_name + '.params'))) == sha1
    assert not [n for n in os.listdir(root) if n.endswith('.zip')]
    ours.set_nms(mode='per_class')
    compare_top100(reference, ours, x)
    ssd_zoo.get_model(NAME, pretrained=True, root=str(root))  # now on disk: no request
    assert len(requests) == 1


def test_a_corrupted_download_is_refused_naming_both_hashes(published, store, tmp_path):
    _, _, sha1, _ = published
    zip_path, file_name, _ = store
    with zipfile.ZipFile(zip_path, 'w') as archive:
        archive.writestr(file_name + '.params', b'not the weights')
    with pytest.raises(ChecksumError) as err:
        get_model_file(NAME, str(tmp_path / 'models'))
    message = str(err.value)  # the published SHA-1 and the downloaded file's
    assert sha1 in message and hashlib.sha1(b'not the weights').hexdigest() in message
    assert not os.path.exists(str(tmp_path / 'models' / (file_name + '.params')))


def test_a_local_file_with_the_published_sha1_needs_no_network(published, monkeypatch,
                                                              tmp_path):
    _, path, sha1, _ = published
    publish(monkeypatch, NAME, sha1)  # the repo is a closed port
    root = tmp_path / 'models'
    root.mkdir()
    target = root / ('%s-%s.params' % (NAME, sha1[:8]))
    target.write_bytes(open(path, 'rb').read())
    assert get_model_file(NAME, str(root)) == str(target)


def test_offline_fails_within_seconds_naming_url_file_and_folder(published, monkeypatch,
                                                                tmp_path):
    _, _, sha1, _ = published
    publish(monkeypatch, NAME, sha1)
    port = closed_port()
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:%d/' % port)
    root = tmp_path / 'models'
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as err:
        ssd_zoo.get_model(NAME, pretrained=True, root=str(root))
    assert time.perf_counter() - start < 30
    message = str(err.value)
    assert 'http://127.0.0.1:%d/gluon/models/%s-%s.zip' % (port, NAME, sha1[:8]) in message
    assert '%s-%s.params' % (NAME, sha1[:8]) in message and str(root) in message


def test_ssd_zoos_own_presets_say_no_weights_are_published(tmp_path):
    with pytest.raises(FileNotFoundError, match='GluonCV publishes none'):
        ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], pretrained=True,
                          root=str(tmp_path))


def test_inspecting_a_detection_model_downloads_nothing_and_says_what_to_do(capsys):
    from ssd_zoo.cli import main
    assert main(['inspect', 'ssd_300_vgg16_atrous_voc']) == 2
    err = capsys.readouterr().err
    assert 'detection model' in err and 'ssd-zoo anchors ssd_300_vgg16_atrous_voc' in err
