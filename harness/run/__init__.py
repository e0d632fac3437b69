"""Running pytest: sessions, command lines, processes, the plugin loaded into them."""
