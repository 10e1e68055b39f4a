"""specc's version: a leaf module, so any stage can print it without importing the package root
(which imports the pipeline)."""

__version__ = "0.1.0"
