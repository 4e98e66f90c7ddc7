"""frontier-py: a geminio-compatible long-connection gateway for edges and services.

Subpackages: ``timer`` (hierarchical timing wheel), ``geminio`` (wire protocol), ``gateway``
(the ``frontier`` command), ``frontlas`` (cluster coordinator) and ``sdk`` (what users import).
"""

__version__ = "0.1.0"
