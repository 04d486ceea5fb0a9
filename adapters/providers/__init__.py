"""EmailProvider adapters."""
