"""Results files and plots."""
