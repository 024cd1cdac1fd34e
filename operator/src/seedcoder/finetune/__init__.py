"""LoRA fine-tuning of the served model on accepted completions.

``gate`` decides whether a trained adapter may be served; ``plan`` builds the
desired Jobs (data set, training, evaluation) of one run as complete
manifests; ``train`` is the training program those Jobs run (PEFT + transformers
on GPU nodes). ``gate`` and ``plan`` are pure and import no Kubernetes client,
web framework or ML library; ``train`` imports torch, transformers and peft
only when it runs.
"""
