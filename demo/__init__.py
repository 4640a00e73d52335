"""The demo crawl of the README."""
