"""The engine of Storyreel. Nothing below this package imports Qt."""
