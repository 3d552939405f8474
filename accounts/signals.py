"""Signals accounts sends for apps above it, which it never imports."""

from django.dispatch import Signal

# Sent with `user` when staff suspend an account; a receiver answers how many of the user's jobs it canceled.
user_suspended = Signal()
