"""Environment facts (paths, frozen app, data dir), settings and logging."""
