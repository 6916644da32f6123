"""Pure signal-processing kernels behind the registered metrics (numpy in, numbers out)."""
