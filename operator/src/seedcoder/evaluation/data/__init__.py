"""Data shipped with the evaluation package (the public regression set and its source)."""
