"""Primitive differentiable operations (each a ``Function`` with forward and backward side by side)."""
