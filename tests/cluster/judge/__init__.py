"""End-to-end tests of the statistical judge on the real control plane."""
