"""Plain data types, progress/cancellation and errors shared by every layer.

Nothing in ``core`` performs I/O or imports a third-party framework.
"""
