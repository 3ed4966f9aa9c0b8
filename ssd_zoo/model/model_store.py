"""Pretrained weights from GluonCV's model store, with GluonCV's file names, URLs and checks.

``<name>-<sha1[:8]>.params`` in ``root`` (default ``$MXNET_HOME/models``, ``~/.mxnet/models``)
is used when its SHA-1 is the one in GluonCV's table; otherwise ``<name>-<sha1[:8]>.zip`` is
fetched from ``$MXNET_GLUON_REPO`` (default Apache's bucket) ``gluon/models/``, checked and
unpacked, under a lock file so that concurrent processes fetch it once. Unlike GluonCV, a
download that cannot start fails within seconds naming the URL and where to copy the file,
and a file with the wrong SHA-1 is refused naming both hashes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from typing import Optional

from ..compat import gluoncv_sha1_table
from .registry import REGISTRY

__all__ = ['get_model_file', 'published_sha1', 'sha1_of', 'default_root', 'DEFAULT_REPO',
           'WeightsUnavailableError', 'ChecksumError']

log = logging.getLogger(__name__)

#: GluonCV's default repository (``gluoncv.model_zoo.model_store.apache_repo_url``)
DEFAULT_REPO = 'https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/'
#: seconds to wait for the repository to answer before saying it cannot be reached
CONNECT_TIMEOUT = 10.0


class WeightsUnavailableError(FileNotFoundError):
    """The weights are neither on disk nor reachable; the message says where to put them."""


class ChecksumError(ValueError):
    """A weights file whose SHA-1 is not the published one."""


def default_root() -> str:
    """``$MXNET_HOME/models``, or ``~/.mxnet/models`` as in MXNet and GluonCV."""
    home = os.environ.get('MXNET_HOME', os.path.join('~', '.mxnet'))
    return os.path.expanduser(os.path.join(home, 'models'))


def published_sha1(name: str) -> Optional[str]:
    """The SHA-1 of the published weights of ``name``, or None if there are none: ssd_zoo's
    own records for SSD models (:mod:`ssd_zoo.model.published`), GluonCV's table for the
    classification backbones."""
    if REGISTRY.has('weights', name):
        return REGISTRY.get('weights', name).target.sha1
    return gluoncv_sha1_table().get(name)


def sha1_of(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def get_model_file(name: str, root: Optional[str] = None, progress: bool = True) -> str:
    """Path of GluonCV's verified weights file of ``name``, fetched if needed.

    Parameters
    ----------
    name : str
        A GluonCV model-store name (``'ssd_512_resnet50_v1_voc'``, ``'resnet50_v1'``).
    root : str, optional
        Folder of weight files (default :func:`default_root`).
    progress : bool
        Show a progress bar while downloading (only on a terminal).

    Raises
    ------
    KeyError
        GluonCV publishes no weights for ``name``.
    WeightsUnavailableError
        Not on disk and the repository cannot be reached (names the URL, file and folder).
    ChecksumError
        The downloaded file's SHA-1 is not the published one (names both).
    """
    import portalocker
    sha1 = published_sha1(name)
    if sha1 is None:
        raise KeyError('GluonCV publishes no weights for %r' % name)
    root = os.path.expanduser(root) if root else default_root()
    file_name = '%s-%s' % (name, sha1[:8])
    params_path = os.path.join(root, file_name + '.params')
    os.makedirs(root, exist_ok=True)
    timeout = int(os.environ.get('GLUON_MODEL_LOCK_TIMEOUT', 300))
    with portalocker.Lock(os.path.join(root, file_name + '.lock'), timeout=timeout):
        if os.path.isfile(params_path):
            found = sha1_of(params_path)
            if found == sha1:
                return params_path
            log.warning('%s has SHA-1 %s, not the published %s: fetching it again',
                        params_path, found, sha1)
        repo = os.environ.get('MXNET_GLUON_REPO', DEFAULT_REPO)
        url = '%sgluon/models/%s.zip' % (repo if repo.endswith('/') else repo + '/', file_name)
        _fetch_and_unpack(url, root, file_name, progress)
        found = sha1_of(params_path)
        if found != sha1:
            os.remove(params_path)
            raise ChecksumError('%s downloaded from %s has SHA-1 %s, but the published weights '
                                'have %s: refused (the file was removed; try again, or check '
                                'MXNET_GLUON_REPO)' % (file_name + '.params', url, found, sha1))
        return params_path


def _fetch_and_unpack(url: str, root: str, file_name: str, progress: bool) -> None:
    log.info('downloading %s', url)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        zip_path = os.path.join(tmp, file_name + '.zip')
        try:
            with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT) as response, \
                    open(zip_path, 'wb') as out:
                _copy_with_progress(response, out, file_name, progress)
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, 'reason', err)
            raise WeightsUnavailableError(
                'cannot download %s (%s). Without network, copy %s.params (or the zip, '
                'unpacked) into %s, or set MXNET_GLUON_REPO to a mirror'
                % (url, reason, file_name, root)) from None
        try:
            with zipfile.ZipFile(zip_path) as archive:
                member = next((m for m in archive.namelist()
                               if os.path.basename(m) == file_name + '.params'), None)
                if member is None:
                    raise ChecksumError('%s holds no %s.params (it has %s)'
                                        % (url, file_name, ', '.join(archive.namelist())))
                with archive.open(member) as src, \
                        open(os.path.join(tmp, file_name + '.params'), 'wb') as dst:
                    shutil.copyfileobj(src, dst)
        except zipfile.BadZipFile:
            raise ChecksumError('%s is not a zip archive' % url) from None
        os.replace(os.path.join(tmp, file_name + '.params'),
                   os.path.join(root, file_name + '.params'))


def _copy_with_progress(response, out, label: str, progress: bool) -> None:
    from tqdm import tqdm
    total = int(response.headers.get('Content-Length') or 0) or None
    with tqdm(total=total, unit='B', unit_scale=True, desc=label,
              disable=None if progress else True) as bar:
        for block in iter(lambda: response.read(1 << 16), b''):
            out.write(block)
            bar.update(len(block))
