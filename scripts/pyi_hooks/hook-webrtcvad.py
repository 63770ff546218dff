"""PyInstaller hook for ``webrtcvad`` as installed by the ``webrtcvad-wheels`` distribution.

The contributed hook copies the metadata of a distribution named ``webrtcvad``, which is
not installed here (the prebuilt ``webrtcvad-wheels`` provides the module), and aborts the
build. Hooks in ``installer.spec``'s ``hookspath`` take precedence over contributed ones.
"""

from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
