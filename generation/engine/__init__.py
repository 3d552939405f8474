"""The import-light engine: workflow runner, node types, production paths, diffusion, the model catalog.

Nothing here imports another app's models; the worker side (generation.runner) hands it what it needs.
"""
