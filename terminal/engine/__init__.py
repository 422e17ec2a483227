"""The till engine: everything a till does, without a screen.

The Kivy app (terminal/app/) is handed a `TillService` (service.py: a worker thread
in front of an `Engine`, core.py) and reacts to its events; the scripted till drives
an `Engine` directly (build.py wires one from terminal.toml). Nothing here imports
kivy. Import the modules themselves: the store and terminal.toml's reader sit below
the engine and no longer need this package to load lazily (tests/test_ladder.py).
"""
