"""Training pieces shared by the experiments: data-parallel gradient steps."""
