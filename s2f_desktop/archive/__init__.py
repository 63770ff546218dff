"""Archive indexing and speaker search at scale: a Parquet index built by Dask workers.

``store`` (index layout, atomic writes), ``engine`` (Dask task graph, one task per
recording), ``search`` and ``scoring`` (filters and ranking; numpy and pyarrow only).
Models run on the workers through :mod:`s2f_desktop.inference.archive_pipeline`, imported
lazily inside the task, so this package never imports torch itself.
"""
