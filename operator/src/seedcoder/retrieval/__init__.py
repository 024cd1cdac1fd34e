"""Retrieval of a company's own code and documentation into completion prompts.

Pure of web frameworks and Kubernetes clients: the indexing program (run by the
operator as a Job) and the gateway both import it. ``chunking`` and ``docs``
split sources into chunks, ``index`` writes and searches the lexical index,
``query`` turns the code around the cursor into a query, ``place`` puts results
into the prompt, ``embedding`` is the seam for an optional vector index.
"""
