"""`tandem bench`: Tandem and mlx-vlm's gemma4_unified port measured side by side on one checkpoint folder.

Every measurement runs in a fresh subprocess (`engine.bench.worker`), Tandem and the peer alternating, so that
neither inherits the other's page cache warmth, allocator state or peak memory. The result is one JSON document
(`engine.bench.report`): every sample, the median, and the ratio Tandem/peer for each figure.

mlx-vlm is imported only by `engine.bench.peer`, which only the worker loads, and only with `--peer mlx-vlm`.
"""
