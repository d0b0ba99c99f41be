"""Saved searches and alerts (issue 19): the domain; the ports are AlertStore and Matcher."""
