"""Watch It Train: watch PyTorch models train, with graded exercises."""
