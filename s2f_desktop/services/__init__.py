"""Service functions: every user action, called alike by the CLI and the GUI.

Services take an :class:`~s2f_desktop.services.context.AppContext`, validate input,
do the work (reporting progress through a :class:`~s2f_desktop.core.progress.Task`),
write through the store's single writer and append an audit event in the same
transaction. They never import Qt, and torch only reaches them lazily through
``s2f_desktop.inference`` (see docs/ARCHITECTURE.md).
"""
