"""s2f-desktop: offline forensic voice profiling with honest composite faces.

The package is layered (see docs/ARCHITECTURE.md): ``core`` and ``system`` at the
bottom, domain packages (``store``, ``audio``, ``voice``, ``face``, ``report``) above
them, ``services`` on top of those, and the two front ends ``cli`` and ``gui``.
"""

__version__ = "0.1.0"
APP_NAME = "s2f-desktop"
