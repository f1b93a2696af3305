"""docs/python_api.md's example, run as written (its python blocks not marked notest, in one process) on the layout
`make demo` leaves in demo_out/: the demo's burn-scar scenes and, in place of the 300-iteration model, the demo's
config (tiny Prithvi) with random weights saved as work/iter_300.pth."""
from __future__ import annotations

import re

import pytest
from helpers.commands import BIN, ROOT, run
from helpers.models import BURN, TINY_PRITHVI, make_checkpoint

from geospatial_mm.config import load_config

pytestmark = pytest.mark.slow
DOC = ROOT / 'docs' / 'python_api.md'


def python_blocks(text: str) -> list[str]:
    return re.findall(r'^```python\n(.*?)^```', text, flags=re.S | re.M)


def test_the_worked_example_runs_as_written_on_the_demo_layout(tmp_path):
    demo = tmp_path / 'demo_out'
    run([BIN / 'python', ROOT / 'tools' / 'make_demo_data.py', demo / 'data', '--datasets', 'burn_scars', '--size',
         '64', '--scenes', '1', '1', '--scene-sizes', '96', '130'])
    work = demo / 'work'
    work.mkdir()
    cfg = load_config(BURN, TINY_PRITHVI)
    cfg.dump(str(work / 'burn_scars.py'))
    make_checkpoint(work / 'burn_scars.py', work / 'iter_300.pth')
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) == 1  # the exported and detection snippets are marked ```python notest
    proc = run([BIN / 'python', '-c', blocks[0]], cwd=tmp_path, timeout=600)
    out = proc.stdout
    assert re.search(r"^segmentation \['Unburnt land', 'Burn scar'\] (fp32|bf16) auto: ", out, re.M), out
    scenes = (demo / 'data' / 'hls_burn_scars' / 'scenes').glob('*_merged.tif')
    names = sorted(p.name[:-len('_merged.tif')] for p in scenes)
    assert len(names) == 2
    for name in names:
        assert re.search(rf'^{re.escape(name)} ok .*{re.escape(name)}_pred\.tif', out, re.M), out
        assert (demo / 'api_predictions' / f'{name}_prob.tif').is_file()
    assert re.search(r'^\(130, 130\) uint8 \(2, 130, 130\)$', out, re.M), out  # the first scene by name
