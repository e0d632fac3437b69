"""target_app: the bundled reference realtime Django Channels app (tournaments and matches live)."""
