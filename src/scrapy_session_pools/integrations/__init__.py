"""Adapters to other packages: scrapy-poet and scrapy-zyte-api's fingerprinter."""
