"""Running sweeps on clusters: bundles of points per scheduler job, PBS Pro commands, resuming after interruptions."""
