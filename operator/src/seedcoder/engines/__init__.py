"""Engines: GPU build profiles (data), the engine key, the build Job's command line and
reports, Triton model-repository generation, and the engine build program.

Pure: ``layout`` (the cache paths that the build program and the operator share),
``profiles``, ``key``, ``buildcmd``, ``report``, ``trtllm_args``, ``contract``, ``pbtxt``,
``trtllm_repo``, ``llamacpp_repo`` (rendering), ``request``, ``textstream``.
The build program (``build``) and its stages (``weights``, ``builders``, ``artifact``,
``manifest``) touch the file system and, on a GPU, TensorRT-LLM; they run only in
the build Job (and in tests).
"""
