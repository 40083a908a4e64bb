"""expert_pool service."""
