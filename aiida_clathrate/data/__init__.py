"""AiiDA data of aiida-clathrate."""
