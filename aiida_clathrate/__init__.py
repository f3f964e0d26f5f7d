"""aiida-clathrate: superconductivity of metal-stuffed B-C clathrates with quantum anharmonic effects."""

__version__ = "0.1.0"
