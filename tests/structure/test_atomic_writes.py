"""Temporary names and the renames that publish a file live in geospatial_mm/io/ only: every other module writes
through geospatial_mm.io.atomic (or the GeoTIFF writer of io/)."""
import re
from pathlib import Path

from helpers.commands import ROOT

SOURCES = ('geospatial_mm', 'tools', 'configs')
# a rename or move of a file, a temporary file of the standard library, or a temporary name built by hand
PATTERN = re.compile(r'\bos\.(replace|rename|renames)\(|\.rename\(|\bshutil\.move\(|\bmkstemp\(|'
                     r'\bNamedTemporaryFile\(|[\'"]\.tmp[\'"]|\.tmp\{|\{[^}]*\}\.tmp')


def rename_logic(base: Path) -> list[str]:
    """``path:line: code`` of every rename or temporary name in the Python files of ``base``'s SOURCES outside
    geospatial_mm/io/."""
    allowed = base / 'geospatial_mm' / 'io'
    found = []
    for name in SOURCES:
        for path in sorted((base / name).rglob('*.py')):
            if allowed in path.parents or '.mim' in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split('#', 1)[0]
                if PATTERN.search(code):
                    found.append(f'{path.relative_to(base)}:{number}: {line.strip()}')
    return found


def test_only_io_names_temporaries_and_renames_them():
    found = rename_logic(ROOT)
    assert found == [], '\n'.join(found)


def test_a_planted_rename_is_found_and_io_may_rename(tmp_path):
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'tools' / 'writer.py').write_text("import os\n\nos.replace(f'{name}.tmp', name)\n")
    (tmp_path / 'geospatial_mm' / 'io').mkdir(parents=True)
    (tmp_path / 'geospatial_mm' / 'io' / 'atomic.py').write_text("import os\nos.replace(tmp, final)\n")
    (tmp_path / 'geospatial_mm' / 'models.py').write_text("path.rename(other)  # move it\n")
    assert rename_logic(tmp_path) == ['geospatial_mm/models.py:1: path.rename(other)  # move it',
                                      "tools/writer.py:3: os.replace(f'{name}.tmp', name)"]
