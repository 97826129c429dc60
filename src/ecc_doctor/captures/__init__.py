"""Captures: pcap/pcapng -> neutral records (records.py) -> analyzers (SIP, H.248/MGC)."""
