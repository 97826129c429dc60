"""The public surface stays small and explicit."""

import ecc_doctor


def test_exported_members() -> None:
    public = sorted(name for name in dir(ecc_doctor) if not name.startswith("_"))
    assert ecc_doctor.__all__ == sorted(ecc_doctor.__all__)
    assert set(ecc_doctor.__all__) - {"__version__"} <= set(public)
    for name in ecc_doctor.__all__:
        assert getattr(ecc_doctor, name) is not None
