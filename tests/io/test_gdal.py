"""The GDAL environment of reads (io/gdal.py)."""


def test_gdal_env_gives_a_block_cache_in_bytes_and_leaves_a_users_setting_alone(monkeypatch):
    """rasterio passes an integer GDAL_CACHEMAX to GDAL as bytes: a value in megabytes would disable the cache."""
    from rasterio._env import get_gdal_config

    from geospatial_mm.io.gdal import gdal_env
    monkeypatch.delenv('GDAL_CACHEMAX', raising=False)
    with gdal_env():
        assert int(get_gdal_config('GDAL_CACHEMAX')) >= 16 * 1024 * 1024
    monkeypatch.setenv('GDAL_CACHEMAX', '300')
    with gdal_env() as env:
        assert 'GDAL_CACHEMAX' not in env.options
