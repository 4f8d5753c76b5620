"""Pure rules: no I/O, no frameworks. Frozen dataclasses in, the same out; instants are passed in."""
