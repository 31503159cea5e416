"""Backtest: replay past incidents under changed playbooks (``cxplay backtest``).

source (JSONL, Parquet, rows → partitions) · recipe (an engine as the playbook files'
bytes, rebuilt in any process) · compare (one incident under both sets → classes; the
exact, order-independent tally) · run (the partitioned map: in-process, a process pool or
Dask; the reduce) · report (the summary model, measures and thresholds) · generate
(synthetic incidents for tests and benchmarks) · present (text, Markdown, JSON, HTML).
"""
