"""Generated incidents with ground truth, for tests, demos and benchmarks."""
