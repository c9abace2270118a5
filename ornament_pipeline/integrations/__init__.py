"""Scrapers for the three vendor sites: fetch (browser), parse (HTML), normalise."""
