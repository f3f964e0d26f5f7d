"""AiiDA parsers of aiida-clathrate."""
