"""Stage agents: a pure core and a thin worker adapter per stage (extract … assemble)."""
