"""Long-running measurement scripts (not part of the installed package); see README.md."""
