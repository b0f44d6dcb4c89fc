"""Admin views (filled by a helper)."""
