"""Training on another machine over SSH (a GPU box), with the same run directories.

`qbtui.registry.hosts` reads `[hosts.<name>]`; `ssh` is the transport (the system
OpenSSH client with one shared connection per host, and rsync); `agent` is what runs on
the host (`qbtui agent ...`); `sync` pushes a friend's photos and the base model and
pulls the LoRA files back; `follower` is the local process that mirrors the host's run
into a local run directory, so `runs`, `logs -f`, the dashboard and the registry work
unchanged; `check` is `qbtui hosts`. Nothing here listens on a port.
"""
