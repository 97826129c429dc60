"""SIP analysis: message parser, REGISTER and PRACK rules, digest checks, ladders.

Public entry points: :func:`ecc_doctor.captures.sip.analyze.analyze_records`,
:func:`ecc_doctor.captures.sip.analyze.analyze_file` and
:mod:`ecc_doctor.captures.sip.ladder`.
"""
