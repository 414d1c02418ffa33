"""From a session's plan (what was watched, for how long) to its playback events.

Times are integer milliseconds throughout, so heartbeats are exactly 60 000 ms apart on
the client clock and nothing drifts through float rounding. A session's *playing clock*
tau runs from 0 at play_start to `play_ms` at the end and stops while paused:

    wall(tau)     = start + tau + sum of pause lengths that began before tau
    position(tau) = start_position + tau + sum of seek jumps at or before tau

Heartbeats fire at tau = 60 s, 120 s, ... (the playing clock, so a pause delays the next
one by exactly its length).
"""

from __future__ import annotations

import numpy as np

from slatehouse.contract.schema import DEVICE_TYPES, EVENT_TYPES
from slatehouse.generate.config import DEVICE_STOP_PROB

HEARTBEAT_MS = 60_000
MAX_PAUSES = 3
MAX_SEEKS = 4  # slot 0 is "skip intro", slots 1..3 are ordinary seeks

K_START, K_HEARTBEAT, K_PAUSE, K_RESUME, K_SEEK, K_STOP = (
    EVENT_TYPES.index(k) for k in ("play_start", "heartbeat", "pause", "resume", "seek", "play_stop")
)
# Order of events that share a playing-clock instant: a heartbeat due at the same
# millisecond as a pause is sent before it.
_RANK = {K_START: 0, K_HEARTBEAT: 1, K_SEEK: 2, K_PAUSE: 3, K_RESUME: 4, K_STOP: 5}


def plan_playback(rng: np.random.Generator, content_ms: np.ndarray, pos0_ms: np.ndarray,
                  is_episode: np.ndarray, device_idx: np.ndarray) -> dict[str, np.ndarray]:
    """Seeks, pauses and the stop flag for sessions that advance `content_ms` of content.

    Forward jumps are capped at 30 % of the content span and ordinary seeks happen in
    the first 70 % of it, after 150 s, so the playhead stays within [0, end position].
    """
    n = len(content_ms)
    L = content_ms.astype(np.int64)
    seek_c = np.full((n, MAX_SEEKS), np.iinfo(np.int64).max, dtype=np.int64)
    seek_d = np.zeros((n, MAX_SEEKS), dtype=np.int64)
    intro = is_episode & (pos0_ms == 0) & (L > 300_000) & (rng.random(n) < 0.25)
    seek_c[intro, 0] = rng.integers(3_000, 25_000, int(intro.sum()))
    seek_d[intro, 0] = rng.integers(30_000, 75_000, int(intro.sum()))
    n_rand = np.where(L >= 600_000, np.minimum(rng.poisson(L / 3.6e6 * 0.8), MAX_SEEKS - 1), 0)
    hi = np.maximum((0.7 * L).astype(np.int64), 150_001)
    for j in range(1, MAX_SEEKS):
        has = n_rand >= j
        c = rng.integers(150_000, hi)
        fwd = rng.random(n) < 0.5
        d = np.where(fwd, rng.integers(10_000, 120_000, n), -rng.integers(10_000, 45_000, n))
        seek_c[:, j] = np.where(has, c, seek_c[:, j])
        seek_d[:, j] = np.where(has, d, 0)
    fwd_sum = np.where(seek_d > 0, seek_d, 0).sum(axis=1)
    scale = np.where(fwd_sum > 0.3 * L, 0.3 * L / np.maximum(fwd_sum, 1), 1.0)
    seek_d = np.where(seek_d > 0, np.maximum((seek_d * scale[:, None]).astype(np.int64), 1), seek_d)
    order = np.argsort(seek_c, axis=1, kind="stable")
    seek_c = np.take_along_axis(seek_c, order, axis=1)
    seek_d = np.take_along_axis(seek_d, order, axis=1)
    n_seek = (seek_c < np.iinfo(np.int64).max).sum(axis=1)
    play_ms = L - seek_d.sum(axis=1)

    n_pause = np.where(play_ms > 20_000, np.minimum(rng.poisson(play_ms / 2.4e6), MAX_PAUSES), 0)
    a = rng.integers(5_000, np.maximum(play_ms - 1_000 - MAX_PAUSES, 5_001)[:, None], (n, MAX_PAUSES))
    a = np.where(np.arange(MAX_PAUSES)[None, :] < n_pause[:, None], a, np.iinfo(np.int64).max)
    a = np.sort(a, axis=1)
    # Strictly increasing pause instants, so a pause never coincides with the previous one.
    a = np.where(a < np.iinfo(np.int64).max, a + np.arange(MAX_PAUSES)[None, :], a)
    b = (np.clip(rng.lognormal(np.log(100_000), 1.0, (n, MAX_PAUSES)), 3_000, 1_500_000)).astype(np.int64)
    b = np.where(a < np.iinfo(np.int64).max, b, 0)

    stop_p = np.array([DEVICE_STOP_PROB[d] for d in DEVICE_TYPES])[device_idx]
    has_stop = rng.random(n) < stop_p
    return dict(play_ms=play_ms, n_seek=n_seek, seek_c=seek_c, seek_d=seek_d, n_pause=n_pause,
                pause_a=a, pause_b=b, has_stop=has_stop, wall_ms=play_ms + b.sum(axis=1))


def expand_events(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per event, sorted by session then time: session, kind, wall_ms, position_ms.

    `s` holds per-session arrays: start_ms, pos0_ms and the plan from `plan_playback`.
    """
    n = len(s["start_ms"])
    play = s["play_ms"]
    n_hb = np.maximum((play - 1) // HEARTBEAT_MS, 0)
    blocks_sess, blocks_tau, blocks_kind = [], [], []

    def add(sess, tau, kind):
        blocks_sess.append(sess.astype(np.int64))
        blocks_tau.append(tau.astype(np.int64))
        blocks_kind.append(np.full(len(sess), kind, dtype=np.int8))

    all_s = np.arange(n)
    add(all_s, np.zeros(n), K_START)
    hb_sess = np.repeat(all_s, n_hb)
    hb_k = np.arange(len(hb_sess)) - np.repeat(np.cumsum(n_hb) - n_hb, n_hb) + 1
    add(hb_sess, hb_k * HEARTBEAT_MS, K_HEARTBEAT)
    for j in range(MAX_PAUSES):
        has = np.flatnonzero(s["n_pause"] > j)
        add(has, s["pause_a"][has, j], K_PAUSE)
        add(has, s["pause_a"][has, j], K_RESUME)
    for j in range(MAX_SEEKS):
        has = np.flatnonzero(s["n_seek"] > j)
        add(has, s["seek_c"][has, j], K_SEEK)
    stop = np.flatnonzero(s["has_stop"])
    add(stop, play[stop], K_STOP)

    sess = np.concatenate(blocks_sess)
    tau = np.concatenate(blocks_tau)
    kind = np.concatenate(blocks_kind)
    rank = np.array([_RANK[k] for k in range(len(EVENT_TYPES))], dtype=np.int64)[kind]
    order = np.argsort((sess << 32) | (tau << 3) | rank, kind="stable")
    sess, tau, kind = sess[order], tau[order], kind[order]

    paused = np.zeros(len(sess), dtype=np.int64)
    for j in range(MAX_PAUSES):
        a, b = s["pause_a"][sess, j], s["pause_b"][sess, j]
        paused += np.where((a < tau) | ((a == tau) & (kind == K_RESUME)), b, 0)
    jumped = np.zeros(len(sess), dtype=np.int64)
    for j in range(MAX_SEEKS):
        c, d = s["seek_c"][sess, j], s["seek_d"][sess, j]
        jumped += np.where((c < tau) | ((c == tau) & (kind == K_SEEK)), d, 0)
    return dict(
        session=sess, kind=kind,
        wall_ms=s["start_ms"][sess] + tau + paused,
        position_ms=s["pos0_ms"][sess] + tau + jumped,
    )
