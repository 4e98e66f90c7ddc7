"""The kopf operator that reconciles FrontierCluster resources.

Lives under ``operator/`` but is named ``frontier_operator``: a top-level ``operator`` package
would shadow Python's standard library module of that name.
"""
