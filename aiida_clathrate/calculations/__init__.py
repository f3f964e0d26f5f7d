"""AiiDA calculations of aiida-clathrate."""
