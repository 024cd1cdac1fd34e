"""Fill-in-the-middle evaluation: does a model endpoint fill holes the way developers do?

The harness gates every change to what is served (a fine-tuned adapter, a new
engine): it sends FIM tasks to an OpenAI-compatible completions endpoint (the
product's gateway) and scores the middles it gets back. ``metrics`` and
``tasks`` are pure; ``sandbox`` runs task tests in a child process;
``client`` speaks HTTP; ``harness`` ties them together; ``cli`` is
``seedcoder evaluate``.
"""
