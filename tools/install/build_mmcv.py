#!/usr/bin/env python
"""Build (or reuse from the cache) an mmcv wheel with compiled ops for the torch in this interpreter.

mmcv publishes no wheels on the package index for current torch releases, and its 2.1.0 sdist hard-codes
``-std=c++17`` while torch >= 2.14 headers need C++20. This script

1. downloads the pinned mmcv sdist and checks its sha256;
2. rewrites the C++ standard flags of its setup.py to the standard torch's own extension builder uses;
3. builds a wheel with ops (``MMCV_WITH_OPS=1``): CUDA ops when a CUDA toolkit matching torch's CUDA is present
   and a GPU is visible (or ``GEOSPATIAL_MM_MMCV_CUDA=1``), CPU ops otherwise;
4. checks that the wheel really contains the compiled extension, and stores it in the cache under a key made of
   everything that changes the binary (mmcv, torch, CUDA, C++ standard, Python, platform, this recipe's revision).

It prints the path of the wheel on its last line. Every failure exits non-zero with a message.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path

# the package's atomic writer (standard library only), loaded from the checkout: this runs before the package is
# installed
_spec = importlib.util.spec_from_file_location(
    'geospatial_mm_io_atomic', Path(__file__).resolve().parents[2] / 'geospatial_mm' / 'io' / 'atomic.py')
atomic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(atomic)

MMCV_VERSION = '2.1.0'
MMCV_SDIST_SHA256 = 'd387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f'
# Bump when the patching or build flags below change, so stale cached wheels are not reused.
RECIPE_REVISION = '1'


def fail(msg: str) -> None:
    print(f'[build_mmcv] ERROR: {msg}', file=sys.stderr)
    sys.exit(1)


def log(msg: str) -> None:
    print(f'[build_mmcv] {msg}', file=sys.stderr, flush=True)


def torch_cxx_standard() -> str:
    """The C++ standard torch's own extension builder passes to the compiler (what its headers need)."""
    import torch.utils.cpp_extension as ce
    src = Path(ce.__file__).read_text()
    found = sorted(set(re.findall(r'-std=c\+\+(\d\d)', src)), key=int)
    if not found:
        fail(f'could not find the C++ standard in {ce.__file__}; set GEOSPATIAL_MM_CXX_STD (e.g. 20)')
    return found[-1]


def nvcc_version() -> str | None:
    from torch.utils.cpp_extension import CUDA_HOME
    if not CUDA_HOME:
        return None
    nvcc = Path(CUDA_HOME) / 'bin' / 'nvcc'
    if not nvcc.exists():
        return None
    out = subprocess.run([str(nvcc), '--version'], capture_output=True, text=True).stdout
    m = re.search(r'release (\d+\.\d+)', out)
    return m.group(1) if m else None


def decide_cuda() -> tuple[bool, str]:
    """Return (build CUDA ops?, reason)."""
    import torch
    choice = os.environ.get('GEOSPATIAL_MM_MMCV_CUDA', 'auto').lower()
    torch_cuda = torch.version.cuda
    toolkit = nvcc_version()
    if choice in ('0', 'no', 'false', 'cpu'):
        return False, 'CPU ops (GEOSPATIAL_MM_MMCV_CUDA=0)'
    if choice in ('1', 'yes', 'true', 'cuda'):
        if not torch_cuda:
            fail('GEOSPATIAL_MM_MMCV_CUDA=1 but this torch is a CPU build')
        if toolkit is None:
            fail('GEOSPATIAL_MM_MMCV_CUDA=1 but no nvcc was found (set CUDA_HOME)')
        if toolkit.split('.')[0] != torch_cuda.split('.')[0]:
            fail(f'CUDA toolkit {toolkit} does not match torch built with CUDA {torch_cuda}')
        return True, f'CUDA ops (forced; toolkit {toolkit}, torch CUDA {torch_cuda})'
    if choice != 'auto':
        fail(f'GEOSPATIAL_MM_MMCV_CUDA must be auto, 0 or 1, not {choice!r}')
    if not torch_cuda:
        return False, 'CPU ops (torch is a CPU build)'
    if toolkit is None:
        return False, f'CPU ops (torch has CUDA {torch_cuda} but no CUDA toolkit was found)'
    if toolkit.split('.')[0] != torch_cuda.split('.')[0]:
        return False, f'CPU ops (CUDA toolkit {toolkit} does not match torch CUDA {torch_cuda})'
    if not torch.cuda.is_available():
        return False, (f'CPU ops (toolkit {toolkit} matches torch CUDA {torch_cuda}, but no GPU is visible; '
                       'set GEOSPATIAL_MM_MMCV_CUDA=1 and TORCH_CUDA_ARCH_LIST to build CUDA ops anyway)')
    return True, f'CUDA ops (toolkit {toolkit}, torch CUDA {torch_cuda}, GPU visible)'


def cache_key(cxx: str, cuda: bool) -> str:
    import torch
    flavour = f'cu{torch.version.cuda}' if cuda else 'cpu'
    if cuda:
        flavour += '-arch' + os.environ.get('TORCH_CUDA_ARCH_LIST', 'auto').replace(' ', '_').replace(';', '_')
    parts = [f'mmcv-{MMCV_VERSION}', f'torch-{torch.__version__}', f'ops-{flavour}', f'cxx{cxx}',
             f'{sys.implementation.cache_tag}', sysconfig.get_platform(), f'r{RECIPE_REVISION}']
    return '_'.join(re.sub(r'[^A-Za-z0-9.+-]', '-', p) for p in parts)


def download_sdist(dest: Path) -> Path:
    log(f'downloading the mmcv {MMCV_VERSION} sdist')
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', 'mmcv', '--no-build-isolation',
           '-d', str(dest), f'mmcv=={MMCV_VERSION}']
    res = subprocess.run(cmd)
    if res.returncode:
        fail(f'pip download of mmcv=={MMCV_VERSION} failed (exit {res.returncode})')
    sdists = list(dest.glob(f'mmcv-{MMCV_VERSION}.tar.gz'))
    if not sdists:
        fail(f'pip download left no mmcv-{MMCV_VERSION}.tar.gz in {dest}')
    digest = hashlib.sha256(sdists[0].read_bytes()).hexdigest()
    if digest != MMCV_SDIST_SHA256:
        fail(f'{sdists[0]}: sha256 {digest} does not match the pinned {MMCV_SDIST_SHA256}')
    return sdists[0]


def patch_setup(setup_py: Path, cxx: str) -> None:
    text = setup_py.read_text()
    patched, n = re.subn(r'([-/]std[=:])c\+\+1[47]', rf'\1c++{cxx}', text)
    if n == 0:
        fail(f'{setup_py}: found no C++ standard flag to patch; the sdist is not the expected one')
    setup_py.write_text(patched)
    log(f'patched {n} C++ standard flags in setup.py to c++{cxx}')


def check_wheel(wheel: Path, cuda: bool) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    ext = [n for n in names if re.fullmatch(r'mmcv/_ext\..*\.so', n)]
    if not ext:
        fail(f'{wheel} holds no compiled mmcv/_ext extension: mmcv was built without ops')
    log(f'wheel holds {ext[0]}' + (' (CUDA)' if cuda else ' (CPU)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cache-dir', default=os.environ.get(
        'GEOSPATIAL_MM_CACHE', str(Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache')) / 'geospatial_mm')))
    parser.add_argument('--jobs', type=int, default=int(os.environ.get('MAX_JOBS', os.cpu_count() or 1)))
    parser.add_argument('--print-key', action='store_true', help='print the cache key and exit')
    args = parser.parse_args()

    try:
        import torch  # noqa: F401
    except ImportError as exc:
        fail(f'torch must be installed before mmcv is built ({exc})')
    import setuptools
    if int(setuptools.__version__.split('.')[0]) >= 82:
        fail(f'setuptools {setuptools.__version__} has no pkg_resources, which mmcv\'s build needs: '
             'install setuptools<82')

    cxx = os.environ.get('GEOSPATIAL_MM_CXX_STD') or torch_cxx_standard()
    cuda, why = decide_cuda()
    key = cache_key(cxx, cuda)
    if args.print_key:
        print(key)
        return
    slot = Path(args.cache_dir) / 'mmcv' / key
    cached = sorted(slot.glob('mmcv-*.whl')) if slot.is_dir() else []
    if cached:
        check_wheel(cached[0], cuda)
        log(f'reusing cached wheel {cached[0]}')
        print(cached[0])
        return

    log(f'no cached wheel under {slot}; building {why}, C++{cxx}, {args.jobs} jobs '
        '(about 25-40 minutes on 2 cores)')
    with tempfile.TemporaryDirectory(prefix='mmcv-build-') as tmp:
        tmp = Path(tmp)
        sdist = download_sdist(tmp / 'dl')
        with tarfile.open(sdist) as tf:
            tf.extractall(tmp / 'src', filter='data')
        src = tmp / 'src' / f'mmcv-{MMCV_VERSION}'
        patch_setup(src / 'setup.py', cxx)
        env = dict(os.environ, MMCV_WITH_OPS='1', MAX_JOBS=str(args.jobs), FORCE_CUDA='1' if cuda else '0')
        if not cuda:
            env['CUDA_VISIBLE_DEVICES'] = ''  # so setup.py's torch.cuda.is_available() agrees with our choice
        res = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-v',
                              '-w', str(tmp / 'wheel'), str(src)], env=env)
        if res.returncode:
            fail(f'building mmcv {MMCV_VERSION} failed (exit {res.returncode}); see the compiler output above')
        wheels = list((tmp / 'wheel').glob('mmcv-*.whl'))
        if len(wheels) != 1:
            fail(f'expected one mmcv wheel, found {wheels}')
        check_wheel(wheels[0], cuda)
        # the build notes first, then the wheel: a slot holds a wheel only once it is complete
        atomic.write_text_atomic(slot / 'BUILD_INFO', f'{why}\nC++{cxx}\npython {platform.python_version()}\n'
                                 f'platform {sysconfig.get_platform()}\n')
        with atomic.atomic_path(slot / wheels[0].name) as tmp:
            shutil.copy2(wheels[0], tmp)
    wheel = sorted(slot.glob('mmcv-*.whl'))[0]
    log(f'cached {wheel}')
    print(wheel)


if __name__ == '__main__':
    main()
