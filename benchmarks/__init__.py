"""tfbert's benchmark suite: run its modules from the repository root, as in README.md."""
