"""Fine-tuning data sets from the gateway's feedback: what developers accepted, made trainable.

``filters`` decides which accepted completions may be trained on, ``dedup``
drops exact and near-duplicate samples, ``builder`` turns feedback records into
Seed-Coder SPM samples, splits them by file and writes versioned snapshots with
a manifest; ``cli`` is ``seedcoder dataset``. Pure code apart from file I/O.
"""
