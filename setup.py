"""Installs geospatial_mm.

The tools/, configs/ and data_splits/ folders are copied into the package as ``geospatial_mm/.mim/`` when it is
built, which is where ``mim train geospatial_mm <config>`` and ``mim test geospatial_mm <config>`` look for the
train/test scripts, and where mmengine finds ``geospatial_mm::`` base configs; ``geospatial_mm.pth`` beside the
package imports it when Python starts (see geospatial_mm/compat/config_scope.py).
The heavy stack (torch, torchvision, mmcv-lite, mmengine, mmseg, mmdet, mmpretrain) is installed by ``make install``;
mmcv's compiled ops that the models use are served by torchvision (geospatial_mm/compat/mmcv_ext.py), so nothing is
compiled. ``GEOSPATIAL_MM_MMCV=full make install`` builds mmcv with its compiled ops instead; see docs/install.md.
"""
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MIM_FOLDERS = ('tools', 'configs', 'data_splits')
# site-packages/geospatial_mm.pth: imports the package when Python starts, so that mmengine knows geospatial_mm::
# base configs before it reads a config (see geospatial_mm/compat/config_scope.py)
STARTUP_PTH = ('geospatial_mm.pth', 'import geospatial_mm\n')
TRAIN = ['torch>=2.6', 'torchvision', 'mmengine>=0.11.0rc3', 'mmsegmentation==1.2.2', 'mmdet==3.3.0',
         'mmpretrain==1.2.0', 'tifffile', 'onnx', 'onnxscript', 'onnxruntime']


def read_version():
    scope = {}
    exec((ROOT / 'geospatial_mm' / 'version.py').read_text(), scope)
    return scope['__version__']


class BuildPyWithMim(build_py):
    """build_py that also places tools/, configs/ and data_splits/ under geospatial_mm/.mim/ for OpenMIM: copies in
    a regular install, links to the checkout's folders in an editable one (``pip install -e .``, ``make develop``),
    as mmseg's own setup does."""

    def run(self):
        super().run()
        if self.dry_run:
            return
        editable = getattr(self, 'editable_mode', False)
        if not editable:  # an editable install gets it from tools/install/install.sh
            (Path(self.build_lib) / STARTUP_PTH[0]).write_text(STARTUP_PTH[1])
        mim_root = (ROOT if editable else Path(self.build_lib)) / 'geospatial_mm' / '.mim'
        mim_root.mkdir(parents=True, exist_ok=True)
        for name in MIM_FOLDERS:
            target = mim_root / name
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            if editable:
                target.symlink_to(Path('..') / '..' / name, target_is_directory=True)
            else:
                shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        # mmengine reads .mim/model-index.yml before it resolves a geospatial_mm:: base config; the package publishes
        # no model zoo, so it lists no metafile
        (mim_root / 'model-index.yml').write_text('Import: []\n')


setup(
    name='geospatial_mm',
    version=read_version(),
    description='Earth-observation extensions (GeoTIFF pipelines, Prithvi, Siamese change heads, MoCo v2) '
    'for MMSegmentation, MMDetection and mmpretrain',
    long_description=(ROOT / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['geospatial_mm', 'geospatial_mm.*']),
    python_requires='>=3.10',
    # what predicting with an exported model needs (tools/model_inference.py -model); the extras add its runtime
    # (torch for .pt2, onnxruntime for .onnx) or the whole training stack, which make install sets up (versions
    # pinned in constraints.txt): 'train' with mmcv-lite, whose ops the package serves with torchvision (no compiler),
    # 'train-full' with mmcv, which pip builds from source (a C++ compiler, and a CUDA toolkit for GPU ops)
    # pystac and pystac-client: STAC items, catalogues and searches as inputs (light, pure Python)
    install_requires=['numpy', 'rasterio', 'tqdm', 'pystac', 'pystac-client'],
    extras_require={
        'torch': ['torch>=2.6'],
        'onnx': ['onnxruntime'],
        'train': [*TRAIN, 'mmcv-lite==2.1.0'],
        'train-full': [*TRAIN, 'mmcv==2.1.0'],
        # signing Planetary Computer's asset URLs (tools/model_inference.py --sign planetary-computer)
        'stac-pc': ['planetary-computer'],
    },
    cmdclass={'build_py': BuildPyWithMim},
    zip_safe=False,
)
