"""`tandem demo`: a demonstration service with synthetic patients. Nothing here is real data."""
