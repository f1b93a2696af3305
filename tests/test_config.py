"""The one config loader: a file or a Config, options merged, the default scope checked."""
import pytest
from helpers.models import BURN
from mmengine.config import Config

from geospatial_mm.config import ConfigError, load_config


def test_a_file_or_a_config_loads_with_its_options_merged_and_the_original_untouched():
    cfg = load_config(str(BURN), {'model.decode_head.num_classes': 3})
    assert cfg.default_scope == 'mmseg' and cfg.model.decode_head.num_classes == 3
    again = load_config(cfg, {'model.decode_head.num_classes': 5})
    assert again.model.decode_head.num_classes == 5 and cfg.model.decode_head.num_classes == 3  # a copy


def test_a_missing_file_and_an_unknown_scope_are_refused_with_the_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.py: config file not found'):
        load_config(str(tmp_path / 'nowhere.py'))
    other = tmp_path / 'other_scope.py'
    other.write_text("default_scope = 'mmocr'\nmodel = dict(type='X')\n")
    with pytest.raises(ConfigError, match=r"other_scope.py: default_scope must be one of .* found 'mmocr'"):
        load_config(str(other))
    with pytest.raises(ValueError):  # a ConfigError is a ValueError, as the error it replaces was
        load_config(Config(dict(model=dict(type='X'))))
