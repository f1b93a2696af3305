#!/usr/bin/env python
"""Merge the ``--summary`` files of the shards of one tools/model_inference.py run (SLURM job array tasks, and reruns
of some of them) into one summary.

    python tools/merge_summaries.py summaries/shard_*.json -o run.json

A sample recorded by several files keeps its best record (outputs there over failed; the later file among equals,
files taken in the order given). The exit status is 0 when every sample has its outputs and every shard of the run
has a summary, 1 when some sample failed or a shard's summary is missing (named), 2 on a file that is not a summary.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.inference.summary import RunSummary, merge_summaries  # noqa: E402
from geospatial_mm.io.atomic import write_json_atomic  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('summaries', nargs='+', help='the shards\' --summary files, oldest first')
    parser.add_argument('-o', '--output', required=True, help='the merged summary (JSON)')
    args = parser.parse_args(argv)
    runs = []
    for path in args.summaries:
        try:
            with open(path, encoding='utf-8') as f:
                runs.append(RunSummary.from_dict(json.load(f), path))
        except (OSError, ValueError) as exc:
            print(f'merge_summaries: error: {path}: {exc}' if isinstance(exc, OSError) else
                  f'merge_summaries: error: {exc}', file=sys.stderr)
            return 2
    merged, problems = merge_summaries(runs)
    write_json_atomic(args.output, merged.to_dict())
    print(f'{len(merged.samples)} sample(s) from {len(runs)} summaries: {merged.count("ok")} predicted, '
          f'{merged.count("skipped")} skipped (outputs existed), {merged.count("failed")} failed -> {args.output}')
    for record in merged.failed:
        print(f'  failed: {record.input}: {record.error}')
    for problem in problems:
        print(f'  {problem}')
    return 1 if merged.failed or problems else 0


if __name__ == '__main__':
    sys.exit(main())
