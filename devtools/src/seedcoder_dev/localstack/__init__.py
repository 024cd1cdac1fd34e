"""Development tools that run real data-plane servers on this machine (no GPU needed).

``triton``: the real ``tritonserver`` with the llama.cpp model repository.
"""
