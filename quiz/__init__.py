"""torchprep: get ready for PyTorch interviews from the terminal."""

__version__ = "0.1.0"
