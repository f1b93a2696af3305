#!/usr/bin/env python
"""Predicting from a COG served over HTTP against the same file read locally: throughput, peak memory and the bytes
fetched.

A synthetic HLS-like raster (6 bands, int16 reflectance x 10000, nodata -9999; :func:`inference.make_raster`) is
written as a Cloud-Optimised GeoTIFF (``--block`` internal tiles, DEFLATE, no overviews) and served by the tests'
``RangeServer`` (``tests/helpers/range_server.py``: a threaded HTTP/1.1 server on 127.0.0.1 that honours Range and
multi-range requests and counts what it sends; a test helper, imported here by putting the repository's ``tests/``
folder on ``sys.path``). Each run is a fresh process that builds the model once (the burn-scars config with the
demo's tiny Prithvi, as in tools/benchmark/inference.py; the predictor's own tile and stride) and predicts the
whole raster with :class:`SegmentationRasterPredictor` the way tools/model_inference.py does: ``local`` from the
file's path, ``http`` from its URL (GDAL's /vsicurl/ range requests in the package's remote options). The two runs
alternate ``--rounds`` times (this machine's speed drifts) and the medians are reported:

* megapixels/s of the prediction (interpreter start and model build excluded) and the ratio http/local;
* peak RSS (VmHWM) of each and the ratio http/local;
* the bytes the server sent for the raster against those the prediction needs: the compressed size of every internal
  tile that the model's windows touch (TileByteCounts) plus the file's header (everything before the first tile's
  data); and the union of the byte ranges asked for, which shows whether a block was fetched twice;
* HTTP requests per 1000 model tiles and the HTTP status counts.

    python tools/benchmark/remote.py [--size 4096] [--block 512] [--rounds 2] [--readers N] [--work DIR] [--json F]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from inference import CONFIG, checkpoint, make_raster, model_options  # noqa: E402  (the inference benchmark's)

NAME = 'x.tif'  # the raster's name on the server
KINDS = ('local', 'http')
TARGETS = dict(throughput_ratio=0.85, bytes_ratio=1.15, rss_ratio=1.25)


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM, not carried over from the parent that launched it)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return round(int(line.split()[1]) / 1024)
    raise RuntimeError('/proc/self/status: no VmHWM line')


def worker(kind: str, raster: str, ckpt: str, out: str, batch_size: int, readers: int | None) -> dict:
    """Build the model (and its checkpoint, the first time), then predict ``raster`` (a path or a URL) into ``out``,
    timed."""
    import geospatial_mm  # noqa: F401
    from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
    from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
    from geospatial_mm.inference.sources import Sample
    checkpoint(Path(ckpt))  # made here when missing: the benchmark's parent process never imports torch
    model = OpenMMLabModel(str(CONFIG), ckpt, device='cpu', cfg_options=model_options(False))
    predictor = SegmentationRasterPredictor(model, batch_size=batch_size, readers=readers)
    rss_model = peak_rss_mb()
    done = dict(tiles=0)

    def on_tiles(n: int) -> None:
        done['tiles'] += n

    start = time.perf_counter()
    written = predictor.predict(Sample('bench', {'img_path': raster}, raster), out, on_tiles=on_tiles)
    seconds = time.perf_counter() - start
    import rasterio
    with rasterio.open(written['classes']) as src:
        height, width = src.height, src.width
    return dict(kind=kind, tiles=done['tiles'], seconds=round(seconds, 3),
                megapixels_per_s=round(height * width / 1e6 / seconds, 4), peak_rss_mb=peak_rss_mb(),
                rss_after_model_mb=rss_model, tile=predictor.tile, stride=predictor.stride, readers=predictor.readers,
                batch_size=batch_size, classes=str(written['classes']))


def run_worker(kind: str, raster: str, ckpt: Path, out: Path, batch_size: int, readers: int | None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob('*'):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'GLIBC_TUNABLES'}
    env['OMP_NUM_THREADS'] = os.environ.get('OMP_NUM_THREADS', str(os.cpu_count()))
    cmd = [sys.executable, __file__, '--worker', kind, raster, str(ckpt), str(out), str(batch_size),
           str(readers or 0)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3 * 3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
    if proc.returncode or not lines:
        raise RuntimeError(f'the {kind} worker failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n'
                           f'{proc.stderr[-3000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def make_cog(path: Path, size: int, block: int) -> None:
    """A ``size`` x ``size`` HLS-like raster as a COG with ``block`` x ``block`` internal tiles, DEFLATE, no
    overviews (from a tiled GeoTIFF written by the inference benchmark's :func:`make_raster`)."""
    if path.exists():
        return
    import rasterio.shutil

    from geospatial_mm.io.atomic import atomic_path
    source = path.with_name(f'{path.stem}_gtiff.tif')
    make_raster(source, size, size)
    with atomic_path(path) as tmp:
        rasterio.shutil.copy(str(source), str(tmp), driver='COG', BLOCKSIZE=block, COMPRESS='DEFLATE',
                             OVERVIEWS='NONE')
    source.unlink()


def tile_layout(path: Path) -> dict:
    """The COG's internal tiles: their byte offsets and counts (row by row), the header's bytes (everything before
    the first tile's data) and the file's size; checks that it is one image, tiled and pixel-interleaved."""
    import tifffile
    with tifffile.TiffFile(path) as tif:
        if len(tif.pages) != 1:
            raise RuntimeError(f'{path}: expected one image (no overviews), found {len(tif.pages)}')
        page = tif.pages[0]
        if not page.is_tiled or page.planarconfig != tifffile.PLANARCONFIG.CONTIG:
            raise RuntimeError(f'{path}: expected pixel-interleaved tiles, found tiled={page.is_tiled}, '
                               f'planar configuration {page.planarconfig!r}')
        offsets, counts = list(page.dataoffsets), list(page.databytecounts)
        block_rows, block_cols = page.tilelength, page.tilewidth
        height, width = page.imagelength, page.imagewidth
    per_row = -(-width // block_cols)
    return dict(offsets=offsets, counts=counts, block=(block_rows, block_cols), per_row=per_row,
                height=height, width=width, header_bytes=min(o for o, c in zip(offsets, counts) if c),
                file_bytes=path.stat().st_size)


def needed_bytes(layout: dict, tile: int, stride: int) -> dict:
    """The bytes a prediction with ``tile`` x ``tile`` windows every ``stride`` px must fetch: the header and every
    internal tile that a window touches, once."""
    from geospatial_mm.io.tiles import TileGrid
    block_rows, block_cols = layout['block']
    touched = set()
    for t in TileGrid(layout['height'], layout['width'], tile, stride):
        for r in range(t.row // block_rows, (t.row + t.height - 1) // block_rows + 1):
            for c in range(t.col // block_cols, (t.col + t.width - 1) // block_cols + 1):
                touched.add(r * layout['per_row'] + c)
    blocks = sum(layout['counts'][i] for i in touched)
    return dict(blocks_touched=len(touched), blocks_in_file=len(layout['counts']), block_bytes=blocks,
                header_bytes=layout['header_bytes'], needed_bytes=blocks + layout['header_bytes'])


def http_summary(server, path: str, size: int) -> dict:
    """What the server did for ``path`` since the last reset: requests, bytes, statuses, and the byte ranges asked
    for (their total and their union: more than the union means some bytes were fetched more than once)."""
    from helpers.range_server import parse_range
    stats = server.stats()
    records = [r for r in server.records() if r.path == path]
    ranges, methods = [], {}
    multi = 0
    for r in records:
        methods[r.method] = methods.get(r.method, 0) + 1
        if r.method != 'GET':
            continue
        parsed = parse_range(r.range, size) if r.range else None
        parsed = [(0, size - 1)] if parsed is None else parsed
        multi += len(parsed) > 1
        ranges.extend(parsed)
    union, end = 0, -1
    for first, last in sorted(ranges):
        if last > end:
            union += last - max(first, end + 1) + 1
            end = last
    return dict(requests=stats.requests_for(path), bytes_sent=stats.bytes_for(path), all_requests=stats.requests,
                statuses={str(k): v for k, v in sorted(stats.statuses.items())}, methods=methods,
                ranges_asked=len(ranges), multi_range_requests=multi,
                bytes_asked=sum(last - first + 1 for first, last in ranges), bytes_asked_union=union,
                dropped=stats.dropped, refused=stats.refused)


def median_row(rows: list[dict]) -> dict:
    """The run of median throughput (the lower middle one of an even number)."""
    ordered = sorted(rows, key=lambda r: r['megapixels_per_s'])
    return ordered[(len(ordered) - 1) // 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=4096, help='raster side in pixels (default 4096)')
    parser.add_argument('--block', type=int, default=512, help='the COG\'s internal tile side (default 512)')
    parser.add_argument('--rounds', type=int, default=2, help='local and http runs, alternating (default 2)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--readers', type=int, help='reader threads (default: the predictor\'s)')
    parser.add_argument('--work', type=Path, default=Path('/tmp/gmm_remote_bench'),
                        help='folder of the checkpoint, the COG and the outputs (reused when there)')
    parser.add_argument('--json', type=Path, help='also write the results here')
    parser.add_argument('--worker', nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, raster, ckpt, out, batch, readers = args.worker
        print('RESULT ' + json.dumps(worker(kind, raster, ckpt, out, int(batch), int(readers) or None)), flush=True)
        return 0
    if args.rounds < 1:
        parser.error('--rounds: expected at least 1')

    sys.path.insert(0, str(ROOT / 'tests'))  # the tests' HTTP server (a test helper)
    from helpers.range_server import RangeServer
    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / 'small_model.pth'  # made by the first worker when missing
    served = args.work / f'cog_{args.size}_b{args.block}'
    raster = served / NAME
    make_cog(raster, args.size, args.block)
    layout = tile_layout(raster)

    runs: dict[str, list[dict]] = {k: [] for k in KINDS}
    # a bound well above anything the run needs: each tile row of windows asks for a few ranges at most
    with RangeServer(served, max_requests=10_000_000, max_lifetime=args.rounds * 4 * 3600.0) as server:
        for round_ in range(args.rounds):
            for kind in KINDS:
                server.reset_stats()
                server.clear_records()
                source = server.url(NAME) if kind == 'http' else str(raster)
                row = run_worker(kind, source, ckpt, args.work / f'out_{kind}', args.batch_size, args.readers)
                row['round'] = round_ + 1
                if kind == 'http':
                    row['http'] = http_summary(server, NAME, layout['file_bytes'])
                runs[kind].append(row)
                extra = (f', {row["http"]["requests"]} requests, {row["http"]["bytes_sent"] / 2**20:.1f} MiB sent'
                         if kind == 'http' else '')
                print(f'round {round_ + 1} {kind:>5}: {row["tiles"]} tiles in {row["seconds"]:.1f} s, '
                      f'{row["megapixels_per_s"]:.3f} MP/s, peak RSS {row["peak_rss_mb"]} MB{extra}', flush=True)
        server.check_limits()

    local, http = median_row(runs['local']), median_row(runs['http'])
    need = needed_bytes(layout, http['tile'], http['stride'])
    mp_local = statistics.median(r['megapixels_per_s'] for r in runs['local'])
    mp_http = statistics.median(r['megapixels_per_s'] for r in runs['http'])
    rss_local = statistics.median(r['peak_rss_mb'] for r in runs['local'])
    rss_http = statistics.median(r['peak_rss_mb'] for r in runs['http'])
    sent = statistics.median(r['http']['bytes_sent'] for r in runs['http'])
    requests = statistics.median(r['http']['requests'] for r in runs['http'])
    statuses: dict[str, int] = {}
    for r in runs['http']:
        for code, n in r['http']['statuses'].items():
            statuses[code] = statuses.get(code, 0) + n
    tiles = http['tiles']
    ratios = dict(throughput_ratio=round(mp_http / mp_local, 3), rss_ratio=round(rss_http / rss_local, 3),
                  bytes_ratio=round(sent / need['needed_bytes'], 3))
    met = dict(throughput_ratio=ratios['throughput_ratio'] >= TARGETS['throughput_ratio'],
               rss_ratio=ratios['rss_ratio'] <= TARGETS['rss_ratio'],
               bytes_ratio=ratios['bytes_ratio'] <= TARGETS['bytes_ratio'])
    report = dict(size=args.size, block=args.block, rounds=args.rounds, model='tiny Prithvi', device='cpu',
                  cpus=os.cpu_count(), tile=http['tile'], stride=http['stride'], readers=http['readers'],
                  batch_size=args.batch_size, tiles=tiles, file_bytes=layout['file_bytes'], **need,
                  local_megapixels_per_s=mp_local, http_megapixels_per_s=mp_http,
                  local_seconds=statistics.median(r['seconds'] for r in runs['local']),
                  http_seconds=statistics.median(r['seconds'] for r in runs['http']),
                  local_peak_rss_mb=rss_local, http_peak_rss_mb=rss_http, http_bytes_sent=sent,
                  http_requests=requests, requests_per_1000_tiles=round(1000 * requests / tiles, 2),
                  http_statuses=statuses, **ratios, targets=TARGETS, targets_met=met, runs=runs,
                  median_runs=dict(local=local['round'], http=http['round']))
    mib = 2 ** 20
    print(f'\n{args.size}² COG, {args.block}² internal tiles, DEFLATE; {tiles} model tiles of {http["tile"]} px '
          f'every {http["stride"]} px, {http["readers"]} reader(s), batch {args.batch_size}; medians of '
          f'{args.rounds} round(s)\n')
    print('| run | seconds | MP/s | peak RSS | requests | bytes fetched |')
    print('|---|---|---|---|---|---|')
    print(f'| local | {report["local_seconds"]:.1f} | {mp_local:.3f} | {rss_local:.0f} MB | – | – |')
    print(f'| http | {report["http_seconds"]:.1f} | {mp_http:.3f} | {rss_http:.0f} MB | {requests:.0f} | '
          f'{sent / mib:.2f} MiB |')
    print('\n| measure | value | target | met |\n|---|---|---|---|')
    print(f'| throughput http/local | {ratios["throughput_ratio"]:.3f}× | ≥ {TARGETS["throughput_ratio"]}× | '
          f'{met["throughput_ratio"]} |')
    print(f'| bytes fetched / needed ({need["needed_bytes"] / mib:.2f} MiB: {need["blocks_touched"]} blocks + '
          f'{need["header_bytes"]} B header) | {ratios["bytes_ratio"]:.3f}× | ≤ {TARGETS["bytes_ratio"]}× | '
          f'{met["bytes_ratio"]} |')
    print(f'| peak RSS http/local | {ratios["rss_ratio"]:.3f}× | ≤ {TARGETS["rss_ratio"]}× | {met["rss_ratio"]} |')
    print(f'| requests per 1000 model tiles | {report["requests_per_1000_tiles"]} | | |')
    print(f'| HTTP statuses (all rounds) | {statuses} | | |')
    print('geospatial_mm remote benchmark: ' + json.dumps({k: v for k, v in report.items() if k != 'runs'}),
          flush=True)
    if args.json:
        from geospatial_mm.io.atomic import write_json_atomic
        write_json_atomic(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
