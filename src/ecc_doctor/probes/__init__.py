"""Probes: HOW ecc-doctor talks to each system. One module per protocol; no verdicts here."""
