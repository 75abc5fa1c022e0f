"""The ``csmri`` command line: thin Click commands over the ``csmri`` and ``learned`` libraries."""
