"""dynpim: dynamic neural networks with run-time tuning on a SOT-MRAM PIM accelerator."""

__version__ = "0.1.0"
