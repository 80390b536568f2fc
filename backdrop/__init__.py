"""Backdrop's programs: the `backdrop` command line, the API client, submit and follow, the sample clip."""
