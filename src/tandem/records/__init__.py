"""Records every clinical app keeps: the tenant base models and the one versioned save."""
