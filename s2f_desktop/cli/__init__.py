"""The ``s2f`` command line: thin argument parsing over the service functions."""
