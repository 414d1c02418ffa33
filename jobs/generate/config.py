"""Knobs of the simulator: fault rates, and the fixed world it simulates (countries,
languages, genres, devices). Everything random is drawn from the seed; these are the
shapes those draws follow."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# Countries members live in: (code, share of members, UTC offset in minutes). Offsets are
# fixed (no daylight saving): the evening peak only needs to land in the right UTC hours.
COUNTRIES: tuple[tuple[str, float, int], ...] = (
    ("US", 0.26, -300), ("BR", 0.09, -180), ("GB", 0.08, 0), ("FR", 0.08, 60),
    ("DE", 0.08, 60), ("MX", 0.06, -360), ("ES", 0.05, 60), ("IT", 0.05, 60),
    ("JP", 0.05, 540), ("KR", 0.04, 540), ("CA", 0.04, -300), ("IN", 0.04, 330),
    ("NL", 0.02, 60), ("SE", 0.02, 60),
)
COUNTRY_CODES = tuple(c for c, _, _ in COUNTRIES)

# Where titles come from: (original_language, origin_country, share of titles). The origin
# need not be a member country (AU, DK): availability is a separate list.
ORIGINS: tuple[tuple[str, str, float], ...] = (
    ("en", "US", 0.36), ("en", "GB", 0.10), ("fr", "FR", 0.07), ("de", "DE", 0.05),
    ("es", "ES", 0.06), ("es", "MX", 0.04), ("it", "IT", 0.03), ("pt", "BR", 0.04),
    ("ja", "JP", 0.06), ("ko", "KR", 0.07), ("hi", "IN", 0.03), ("sv", "SE", 0.02),
    ("da", "DK", 0.02), ("en", "AU", 0.02), ("en", "CA", 0.03),
)

GENRES: tuple[str, ...] = (
    "drama", "comedy", "thriller", "crime", "documentary", "sci-fi", "romance",
    "animation", "horror", "reality", "action", "family", "fantasy", "mystery",
)

# Device mix of viewing and the chance a session ends with an explicit play_stop
# (apps get killed on phones far more often than on TVs).
DEVICE_SHARES = {"tv": 0.46, "mobile": 0.24, "web": 0.12, "tablet": 0.10, "console": 0.08}
DEVICE_STOP_PROB = {"tv": 0.95, "mobile": 0.78, "web": 0.85, "tablet": 0.88, "console": 0.93}
APP_VERSIONS = {
    "tv": ("7.2.0", "7.3.1", "7.4.0"),
    "mobile": ("15.8.2", "15.9.0", "16.0.1"),
    "web": ("2026.1.4", "2026.2.0", "2026.2.3"),
    "tablet": ("15.8.2", "15.9.0", "16.0.1"),
    "console": ("3.11.0", "3.12.2", "3.12.5"),
}

# Share of viewing sittings starting in each local hour 0..23: a late-evening peak,
# a lunchtime shoulder, a dead early morning. Weekends (below) flatten the day.
HOUR_WEIGHTS_WEEKDAY = (
    1.6, 0.8, 0.4, 0.2, 0.15, 0.2, 0.5, 1.0, 1.3, 1.3, 1.4, 1.6,
    2.2, 2.2, 1.9, 2.0, 2.4, 3.2, 4.6, 6.6, 8.4, 9.0, 7.4, 3.9,
)
HOUR_WEIGHTS_WEEKEND = (
    2.2, 1.3, 0.7, 0.3, 0.2, 0.25, 0.5, 1.0, 1.8, 2.6, 3.2, 3.6,
    3.8, 3.9, 4.0, 4.1, 4.3, 4.7, 5.3, 6.6, 8.0, 8.4, 7.2, 4.4,
)
# Monday..Sunday: more sittings at the weekend.
WEEKDAY_FACTOR = (0.88, 0.86, 0.90, 0.95, 1.10, 1.25, 1.20)


@dataclass(frozen=True)
class FaultRates:
    """How dirty the landing data is. Every rate can be 0 for a clean run.

    Rates are shares of *events* unless the name says otherwise. Malformed lines are
    *extra* lines (corrupted copies of a real event under a fresh event_id), so the
    true sessions are never damaged by them; `malformed` is split over the kinds in
    `faults.MALFORMED_KINDS`.
    """

    duplicate: float = 0.005  # re-delivered events: same event_id and content, later received_ts
    late_session: float = 0.02  # sessions (offline viewing) delivered 2 h .. 71 h late
    too_late_session: float = 0.002  # sessions delivered more than 3 days late
    unknown_title_session: float = 0.001  # sessions whose title_id is in no catalogue snapshot
    clock_skew_profile: float = 0.01  # profiles whose preferred device's clock is off (-10 min .. +4 min)
    out_of_order: float = 0.01  # lines moved to another place in their file
    malformed: float = 0.001  # extra broken lines, per event
    gzip_file_share: float = 0.1  # hour folders written as .jsonl.gz (not a fault; a format mix)
    truncated_gzip_files: int = 1  # gzip files cut mid-stream

    @classmethod
    def clean(cls) -> "FaultRates":
        """No faults at all (gzip files are still written: they are a format, not a fault)."""
        zero = {f.name: 0 for f in fields(cls) if f.name != "gzip_file_share"}
        return cls(**zero)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
