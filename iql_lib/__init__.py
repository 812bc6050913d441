"""iql_lib: Implicit Q-Learning, its baselines, environments and data, for the course."""
__version__ = "0.1.0"
