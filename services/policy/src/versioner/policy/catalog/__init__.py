"""Products, environments, versions and builds: finding, creating, listing and editing them."""
