"""Engines: GPU build profiles (data), the engine key, the build Job's command line,
Triton model-repository generation and the engine build program.

Pure except :mod:`seedcoder.engines.build` and its stages, which run only inside
the build Job (they touch the file system and, on a GPU, TensorRT-LLM).
"""
