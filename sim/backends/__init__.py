"""Simulation backends: many worlds of one model stepped in parallel."""
