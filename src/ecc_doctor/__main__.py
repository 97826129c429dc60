"""``python -m ecc_doctor``."""

from ecc_doctor.cli import main

main()
