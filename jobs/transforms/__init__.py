"""Pure DataFrame -> DataFrame transforms. They never read or write storage."""
