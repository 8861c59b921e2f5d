"""Stand-ins for binaries a unit test cannot use for real; each honours the real contract."""
