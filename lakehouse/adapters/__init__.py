"""Every use of a library-private name, one module per library: :mod:`.quix`, :mod:`.iceberg`,
:mod:`.pydantic`. Each library is pinned in pyproject, each hook's upstream name and signature is
checked server-free in ``tests/lakehouse/adapters/``, and ``tests/test_private_names.py`` fails when any
other module of the product uses a private name of quixstreams, pyiceberg, pydantic, streamlit or
pyspark."""
