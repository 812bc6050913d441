"""Many runs side by side: one trial, a sweep over seeds and settings, and the Ray
cluster that carries them (local, or at an address)."""
