"""The operator's reconcile of SeedCoderFineTune: data set, training and evaluation Jobs, gate, publish.

Kept empty of imports, like ``seedcoder.operator`` itself, so importing a pure
module here never registers handlers.
"""
