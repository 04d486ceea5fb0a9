"""A month of transactional mail replayed through the domain services (bench/reputation.py)."""
