"""Each benchmark script runs end to end with tiny settings and reports what the docs quote (keys, not speeds)."""
import json

import pytest
from helpers.commands import BIN, ROOT, run

pytestmark = pytest.mark.slow
BENCH = ROOT / 'tools' / 'benchmark'


def test_inference_benchmark_reports_ratios_and_memory_for_square_and_wide_rasters(tmp_path):
    out = tmp_path / 'inference.json'
    run([BIN / 'python', BENCH / 'inference.py', '--sizes', '256', '128x600', '--rounds', '1', '--bare-tiles', '4',
         '--bare-every', '1000000', '--batch-size', '2', '--work', tmp_path / 'work', '--device', 'cpu',
         '--precision', 'fp32', '--readers', '2', '--json', out], timeout=1200)  # bf16: tests/inference/test_precision
    report = json.loads(out.read_text())
    assert report['device'] == 'cpu' and report['precision'] == 'fp32'
    assert [r['size'] for r in report['rows']] == ['256²', '128×600']
    for row in report['rows']:
        assert {'tiles', 'megapixels_per_s', 'bare_megapixels_per_s', 'ratio_to_bare', 'peak_rss_mb',
                'rss_vs_smallest', 'readers', 'faults_per_tile', 'bare_faults_per_tile', 'malloc_kept'} <= set(row)
        assert row['readers'] == 2 and row['tiles'] > 0 and row['ratio_to_bare'] > 0
        assert row['faults_per_tile'] >= 0 and row['bare_faults_per_tile'] >= 0


def test_training_benchmark_reports_runner_and_model_only_throughput(tmp_path):
    out = tmp_path / 'training.json'
    # fp32: bf16 training on the CPU (CPUAutocastOptimWrapper) is tested by tests/test_slumps.py and the engine's tests
    run([BIN / 'python', BENCH / 'training.py', '--iters', '2', '--warmup', '1', '--batch-size', '2', '--workers', '1',
         '--size', '128', '--precision', 'fp32', '--malloc', 'keep', '--work', tmp_path / 'work', '--json', out],
        timeout=1200)
    report = json.loads(out.read_text())
    assert {'runner_samples_per_s', 'model_only_samples_per_s', 'ratio', 'data_time_s', 'device', 'precision',
            'runner_faults_per_iter', 'model_only_faults_per_iter', 'losses', 'malloc_kept'} <= set(report)
    assert report['device'] == 'cpu' and report['workers'] == 1 and report['ratio'] > 0
    assert report['precision'] == 'fp32' and len(report['losses']) == 3


def test_data_pipeline_benchmark_reports_both_orders_of_work(tmp_path):
    out = tmp_path / 'pipeline.json'
    run([BIN / 'python', BENCH / 'data_pipeline.py', '--samples', '4', '--files', '2', '--json', out], timeout=1200)
    assert json.loads(out.read_text())


def test_prithvi_backbone_benchmark_reports_speed_and_memory(tmp_path):
    out = tmp_path / 'backbone.json'
    run([BIN / 'python', BENCH / 'prithvi_backbone.py', '--arch', 'tiny', '--batch', '1', '--steps', '1', '--frames',
         '1', '--json', out], timeout=1200)
    rows = json.loads(out.read_text())
    assert [(r['frames'], r['with_cp'], r['attn']) for r in rows] == [(1, False, 'sdpa'), (1, False, 'math'),
                                                                       (1, True, 'sdpa')]
    assert all(r['samples_per_s'] > 0 and r['activation_mb'] >= 0 for r in rows)


def test_export_benchmark_reports_start_up_and_throughput_of_each_runtime(tmp_path):
    out = tmp_path / 'export.json'
    # the full stack and the light one (the other runtimes differ by an environment variable, the precision, the
    # runtime and int8 weights, each tested in tests/export and tests/inference)
    run([BIN / 'python', BENCH / 'export.py', '--small', '--size', '448', '--batch-size', '2', '--work',
         tmp_path / 'work', '--runtimes', 'full', 'onnx', '--json', out], timeout=1200)
    report = json.loads(out.read_text())
    assert report['model'] == 'Prithvi tiny' and report['size'] == 448
    assert [r['runtime'] for r in report['rows']] == ['full', 'onnx']
    assert set(report['exports']) == {'onnx'}
    for row in report['rows']:
        assert {'startup_s', 'first_batch_s', 'tiles_per_s', 'tiles', 'peak_rss_mb', 'model_file_mb',
                'throughput_vs_full', 'faults_per_tile', 'agreement_with_full_fp32_percent'} <= set(row)
        assert 0 < row['startup_s'] <= row['first_batch_s'] <= row['total_s'] and row['tiles'] == 9
        assert row['tiles_per_s'] > 0 and row['throughput_vs_full'] > 0
        assert 0 <= row['agreement_with_full_fp32_percent'] <= 100
    light = {r['runtime']: r for r in report['rows']}
    assert light['full']['agreement_with_full_fp32_percent'] == 100
    assert [light[k]['precision'] for k in ('full', 'onnx')] == ['fp32', 'fp32']
    assert not light['onnx']['openmmlab_imported'] and not light['onnx']['torch_imported']
