"""Emulator fidelity tests: the real Google client libraries against the local Google."""
