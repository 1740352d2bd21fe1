"""Training runs that outlive the screen: run directories, events, supervisor, backends, queue."""
