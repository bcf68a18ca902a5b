"""The desktop window (PySide6 on the asyncio loop through qasync).

It only presents and forwards: core events reach widgets through one adapter
(``bridge``), async work starts through one helper (``ops``), errors are shown
in one place (``errors``). Widgets never do I/O themselves.
"""
