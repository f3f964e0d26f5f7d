"""AiiDA workflows of aiida-clathrate."""
