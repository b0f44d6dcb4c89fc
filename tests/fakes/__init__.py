"""Fakes that speak real protocols on 127.0.0.1 (no Python mocks of our code)."""
