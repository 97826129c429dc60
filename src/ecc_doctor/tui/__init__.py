"""The Textual dashboard (``ecc-doctor dashboard``): a thin live view over the runner.

``app.DashboardApp`` is the app: its layout, keys and wiring, composed of mixins over
``base.DashboardBase`` (state and redraw): ``check_runs``, ``sip_capture``, ``mgc_capture``,
``lab_control``, ``export`` and ``search``. ``history`` holds the UI-free session history
model; one module per screen or widget; ``messages`` holds the dataclass messages workers post.
Nothing here imports scapy at start-up: the capture code loads when a capture is read.
"""
