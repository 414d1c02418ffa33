"""The demand model: an additive ridge model on the log (or logit) scale.

Fitting, in order (docs/forecasting.md explains the choices):

1. Check and canonicalise the history; sort it by release date.
2. Learn the design (vocabulary, standardisation) from the history - features only.
3. Shrinkage by empirical Bayes: the model is a Gaussian mixed model whose random effects
   are blocks of columns (genre, language, origin, show, the trend, and talent - one
   block per role with enough credits, the other roles pooled). The variance of each
   block relative to the noise is estimated by restricted maximum likelihood (REML) on
   every training title (the latest `REML_MAX_TITLES` of a longer history); the
   credit-weight exponents (cast size, and billing order where the history has one) are
   the pair with the highest REML likelihood. A block's ridge penalty is noise variance /
   block variance.
4. Time-ordered folds: the later half of the history is cut into consecutive folds by
   release date; each is predicted by a model (with the penalties of step 3) trained only
   on the titles released before it. Their residuals give the interval: split-conformal
   quantiles of the residuals divided by `ResidualScale`, the typical error for a forecast
   of that size and familiarity, and for a returning show's next season (a term only
   where the residuals show it).
5. The final coefficients are the ridge solution on the whole history.

Why REML rather than choosing penalties on the folds: on a few hundred titles the folds
hold about a hundred out-of-time residuals, and the penalty that minimises their squared
error jumps around from one cutoff to the next (docs/forecasting.md gives figures). REML
uses every title and every credit, and has a smooth optimum.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse
from scipy.sparse.linalg import cg, spsolve

from .comparables import ComparableIndex
from .features import (
    BLOCK_GENRE,
    BLOCK_INTERCEPT,
    BLOCK_LANGUAGE,
    BLOCK_NUMERIC,
    BLOCK_ORIGIN,
    BLOCK_SHOW,
    BLOCK_TALENT,
    BLOCK_TREND,
    NUMERIC_GROUPS,
    Design,
    TargetScale,
    scale_for,
)
from .inputs import UNSPECIFIED_ROLE, ForecastInputError, is_number, normalise_titles

log = logging.getLogger(__name__)

MIN_TITLES = 20
INTERVAL_LEVEL = 0.80
MIN_GROUP_RESIDUALS = 40  # below this, familiarity (or a returning show) does not enter the interval's width
MIN_SCALE_RESIDUALS = 80  # below this, one width for every pitch
SCALE_MIN_T = 2.0  # a term of the interval's width needs this much evidence (|t|)
MIN_ROLE_CREDITS = 50  # a role gets its own talent variance only with this many credits
FIRST_FOLD_AT = 0.5  # the time-ordered folds cover the later half of the history

EXPONENT_GRID = (0.0, 0.5, 1.0)
BILLING_EXPONENT_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)
# REML's dense algebra grows with the cube of the titles (a 4,000-title history took 263 s
# to fit, against 6 s for 1,000). Past this many, the variance ratios are estimated on the
# latest titles only; the coefficients and the interval always use every title.
REML_MAX_TITLES = 1500
# REML searches each block's variance ratio (block variance / noise variance) in this range,
# i.e. penalties between 0.01 and 10,000.
VARIANCE_RATIO_BOUNDS = (1e-4, 1e2)

PREDICTION_COLUMNS = [
    "title_id",
    "target",
    "point",
    "p10",
    "p90",
    "point_model_scale",
    "n_known_talent",
    "n_talent",
    "comparables",
    "explanation",
    "unseen",
    "held_to_range",
]
EXPLANATION_COLUMNS = ["component", "feature", "contribution", "is_unseen"]


@dataclass(frozen=True)
class Hyperparameters:
    """Ridge penalties, in units of residual variance / effect variance.

    `role_penalties` overrides `talent_penalty` for the roles it names, as a tuple of
    (role, penalty) pairs so that the object stays hashable.
    """

    talent_penalty: float = 4.0
    category_penalty: float = 4.0  # genre; language and origin too unless set below
    use_trend: bool = True
    numeric_penalty: float = 1.0  # standardised numeric terms: light, for stability only
    role_penalties: tuple[tuple[str, float], ...] = ()
    language_penalty: float | None = None
    origin_penalty: float | None = None
    show_penalty: float | None = None  # None: category_penalty
    trend_penalty: float | None = None  # None: numeric_penalty
    cast_exponent: float = 1.0  # talent weight 1 / n^a within a role; see features.py
    billing_exponent: float = 0.0  # and 1 / billing_order^c for a billed credit
    # Genre weight 1 / k^b for k genres. Not searched: on synthetic data, choosing b by the
    # same folds over-fitted (better CV, worse backtest); the mean (b = 1) is the default.
    genre_exponent: float = 1.0

    def for_role(self, role: str) -> float:
        return dict(self.role_penalties).get(role, self.talent_penalty)

    def __str__(self) -> str:
        """The penalties and exponents in brief, for logs (the repr has every digit)."""
        def short(value: float | None, default: float) -> str:  # the penalty in force
            return f"{default if value is None else value:.3g}"
        roles = ", ".join(f"{role} {short(value, 0)}" for role, value in self.role_penalties)
        genre = self.category_penalty
        return (f"penalties: talent {short(self.talent_penalty, 0)}" + (f" ({roles})" if roles else "")
                + f", genre {short(genre, 0)}, language {short(self.language_penalty, genre)}, "
                f"origin {short(self.origin_penalty, genre)}, show {short(self.show_penalty, genre)}, trend "
                + (short(self.trend_penalty, self.numeric_penalty) if self.use_trend else "off")
                + f"; exponents: cast {self.cast_exponent:.3g}, billing {self.billing_exponent:.3g}, "
                f"genre {self.genre_exponent:.3g}")

    def with_role(self, role: str, penalty: float) -> "Hyperparameters":
        roles = dict(self.role_penalties)
        roles[role] = penalty
        return replace(self, role_penalties=tuple(sorted(roles.items())))


def _penalty(design: Design, hp: Hyperparameters) -> np.ndarray:
    trend = hp.numeric_penalty if hp.trend_penalty is None else hp.trend_penalty
    per_block = {
        BLOCK_INTERCEPT: 1e-8,
        BLOCK_NUMERIC: hp.numeric_penalty,
        BLOCK_TREND: trend if hp.use_trend else 1e10,
        BLOCK_GENRE: hp.category_penalty,
        BLOCK_LANGUAGE: hp.category_penalty if hp.language_penalty is None else hp.language_penalty,
        BLOCK_ORIGIN: hp.category_penalty if hp.origin_penalty is None else hp.origin_penalty,
        BLOCK_SHOW: hp.category_penalty if hp.show_penalty is None else hp.show_penalty,
    }
    return np.array(
        [hp.for_role(key[1]) if block == BLOCK_TALENT else per_block[block] for block, key in design.columns],
        dtype=float,
    )


def _solve_normal(gram: sparse.csr_matrix, rhs: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Solve (gram + diag(penalty)) b = rhs.

    Jacobi-preconditioned conjugate gradients: the matrix is sparse and, thanks to the
    penalties, well conditioned; this is ~15x faster than a sparse LU here. Falls back to
    the direct solver if CG does not converge.
    """
    a = (gram + sparse.diags(penalty)).tocsr()
    diagonal = a.diagonal()
    b, info = cg(a, rhs, M=sparse.diags(1.0 / diagonal), rtol=1e-10, maxiter=20 * len(rhs))
    if info != 0:
        b = np.asarray(spsolve(a.tocsc(), rhs)).ravel()
    return b


def _solve(x: sparse.csr_matrix, y: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    return _solve_normal((x.T @ x).tocsr(), x.T @ y, penalty)


def _time_folds(dates: pd.Series, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validate) boolean masks; each fold trains strictly on earlier releases."""
    n = len(dates)
    values = dates.to_numpy()
    start = max(MIN_TITLES // 2, int(n * FIRST_FOLD_AT))
    boundaries = np.unique(
        [values[min(n - 1, start + (n - start) * k // n_folds)] for k in range(n_folds)]
    )
    folds = []
    for k, begin in enumerate(boundaries):
        end = boundaries[k + 1] if k + 1 < len(boundaries) else None
        train = values < begin
        validate = (values >= begin) if end is None else (values >= begin) & (values < end)
        if train.sum() >= MIN_TITLES // 2 and validate.any():
            folds.append((train, validate))
    return folds


def _familiarity(credits_lists, known: set) -> tuple[np.ndarray, np.ndarray]:
    """Per title: how many of its credits the model has seen, and whether that is most of them."""
    n_known = np.array([sum(credit in known for credit in credits) for credits in credits_lists], dtype=int)
    n_credits = np.array([len(credits) for credits in credits_lists], dtype=int)
    return n_known, (n_credits > 0) & (2 * n_known >= n_credits)


def _returning(shows, known: set) -> np.ndarray:
    """Per title: whether it is the next season of a show the model has seen."""
    return np.array([show is not None and show in known for show in shows], dtype=bool)


@dataclass
class _Fold:
    gram: sparse.csr_matrix
    rhs: np.ndarray
    x_validate: sparse.csr_matrix
    y_validate: np.ndarray
    is_familiar: np.ndarray
    is_returning: np.ndarray


def _prepare_folds(x, y, titles: pd.DataFrame, masks) -> list[_Fold]:
    folds = []
    shows = titles["show_id"]
    for train, validate in masks:
        x_train = x[train]
        known = {c for cs in titles["talent"][train] for c in cs}
        _, familiar = _familiarity(titles["talent"][validate], known)
        returning = _returning(shows[validate], set(shows[train].dropna()))
        folds.append(_Fold((x_train.T @ x_train).tocsr(), x_train.T @ y[train], x[validate], y[validate],
                           familiar, returning))
    return folds


@dataclass
class _CrossValidation:
    score: float
    residuals: np.ndarray
    predicted: np.ndarray
    is_familiar: np.ndarray
    is_returning: np.ndarray


def _cross_validate(folds: list[_Fold], design: Design, hp: Hyperparameters) -> _CrossValidation:
    penalty = _penalty(design, hp)
    predicted = np.concatenate([f.x_validate @ _solve_normal(f.gram, f.rhs, penalty) for f in folds])
    residuals = np.concatenate([f.y_validate for f in folds]) - predicted
    familiar = np.concatenate([f.is_familiar for f in folds])
    returning = np.concatenate([f.is_returning for f in folds])
    return _CrossValidation(float(np.mean(residuals**2)), residuals, predicted, familiar, returning)


class _Folds:
    """The time-ordered folds, with each fold's Gram matrix built once per pair of weight
    exponents (the only hyperparameters that change the design)."""

    def __init__(self, design: Design, titles: pd.DataFrame, y: np.ndarray, masks):
        self.design, self.titles, self.y, self.masks = design, titles, y, masks
        self._by_exponents: dict[tuple[float, float, float], list[_Fold]] = {}

    def get(self, hp: Hyperparameters) -> list[_Fold]:
        key = (hp.cast_exponent, hp.genre_exponent, hp.billing_exponent)
        if key not in self._by_exponents:
            x = self.design.matrix(self.titles, *key)
            self._by_exponents[key] = _prepare_folds(x, self.y, self.titles, self.masks)
        return self._by_exponents[key]

    def cross_validate(self, hp: Hyperparameters) -> _CrossValidation:
        return _cross_validate(self.get(hp), self.design, hp)


def _random_blocks(design: Design, roles: list[str]) -> list[tuple[str, np.ndarray]]:
    """The random-effect blocks: (name, column indices). Talent in a role listed in `roles`
    gets its own block; the other roles share one."""
    groups: dict[str, list[int]] = {}
    for j, (block, key) in enumerate(design.columns):
        if block in (BLOCK_INTERCEPT, BLOCK_NUMERIC):
            continue
        name = block
        if block == BLOCK_TALENT:
            name = f"talent:{key[1]}" if key[1] in roles else "talent"
        groups.setdefault(name, []).append(j)
    return [(name, np.asarray(idx)) for name, idx in sorted(groups.items())]


@dataclass
class _Reml:
    names: list[str]
    variance_ratio: np.ndarray  # block variance / noise variance, per block
    neg_loglik: float


def _reml(x: sparse.csr_matrix, y: np.ndarray, blocks, start: np.ndarray | None = None) -> _Reml:
    """Restricted maximum likelihood of the variance ratios of the random blocks.

    y = X_fixed b + sum_k Z_k u_k + e, u_k ~ N(0, g_k s2 I), e ~ N(0, s2 I). With
    H = I + sum_k g_k Z_k Z_k' and P = H^-1 - H^-1 X (X' H^-1 X)^-1 X' H^-1, the REML
    criterion (s2 profiled out) is (n - p) log(y'Py) + log|H| + log|X'H^-1 X|, and its
    derivative in g_k is tr(P K_k) - (n - p) y'P K_k P y / y'Py. Dense n x n algebra: fine
    for the few thousand titles a history holds.
    """
    n = x.shape[0]
    random_cols = np.concatenate([idx for _, idx in blocks]) if blocks else np.array([], dtype=int)
    fixed = np.setdiff1d(np.arange(x.shape[1]), random_cols)
    xf = x[:, fixed].toarray()
    xf = xf[:, np.abs(xf).sum(axis=0) > 1e-12]
    # Drop collinear fixed columns (e.g. a history of films only has no episodes term).
    q, r = np.linalg.qr(xf)
    xf = q[:, np.abs(np.diag(r)) > 1e-8 * max(1.0, np.abs(np.diag(r)).max())]
    p = xf.shape[1]
    kernels = []
    for _, idx in blocks:
        z = x[:, idx]
        kernels.append((z @ z.T).toarray())
    identity = np.eye(n)

    def objective(theta):
        g = np.exp(theta)
        h = identity.copy()
        for gk, k in zip(g, kernels):
            h += gk * k
        try:
            c = linalg.cho_factor(h, lower=True, check_finite=False)
        except linalg.LinAlgError:
            return 1e12, np.zeros_like(theta)
        h_inv = linalg.cho_solve(c, identity, check_finite=False)
        hx = h_inv @ xf
        a = xf.T @ hx
        a_inv = np.linalg.inv(a)
        proj = h_inv - hx @ a_inv @ hx.T
        py = proj @ y
        quad = float(y @ py)
        if quad <= 0:
            return 1e12, np.zeros_like(theta)
        logdet_h = 2.0 * np.log(np.diag(c[0])).sum()
        logdet_a = np.linalg.slogdet(a)[1]
        value = 0.5 * ((n - p) * math.log(quad / (n - p)) + logdet_h + logdet_a)
        grad = np.array([
            0.5 * gk * (float((proj * k).sum()) - (n - p) * float(py @ k @ py) / quad)
            for gk, k in zip(g, kernels)
        ])
        return value, grad

    if not blocks:
        return _Reml([], np.array([]), objective(np.array([]))[0])
    theta0 = np.log(start) if start is not None else np.zeros(len(blocks))
    lo, hi = (math.log(v) for v in VARIANCE_RATIO_BOUNDS)
    result = optimize.minimize(
        objective, np.clip(theta0, lo, hi), jac=True, method="L-BFGS-B",
        bounds=[(lo, hi)] * len(blocks), options={"maxiter": 200, "ftol": 1e-7},
    )
    return _Reml([name for name, _ in blocks], np.exp(result.x), float(result.fun))


def _hyperparameters_from_reml(fit: _Reml, exponents: tuple[float, float], start: Hyperparameters) -> Hyperparameters:
    penalty = {name: float(1.0 / ratio) for name, ratio in zip(fit.names, fit.variance_ratio)}
    roles = tuple(sorted((name.split(":", 1)[1], value) for name, value in penalty.items()
                         if name.startswith("talent:")))
    return replace(
        start,
        talent_penalty=penalty.get("talent", start.talent_penalty),
        role_penalties=roles,
        category_penalty=penalty.get(BLOCK_GENRE, start.category_penalty),
        language_penalty=penalty.get(BLOCK_LANGUAGE),
        origin_penalty=penalty.get(BLOCK_ORIGIN),
        show_penalty=penalty.get(BLOCK_SHOW),
        trend_penalty=penalty.get(BLOCK_TREND),
        use_trend=True,
        cast_exponent=exponents[0],
        billing_exponent=exponents[1],
    )


def _select(design: Design, titles: pd.DataFrame, y: np.ndarray, start: Hyperparameters) -> Hyperparameters:
    """REML variance ratios for each pair of weight exponents (cast size, billing); the
    likeliest wins. The billing exponent is searched only when the history bills some credits.
    `titles` is sorted by release date; only the latest `REML_MAX_TITLES` enter."""
    if len(titles) > REML_MAX_TITLES:
        log.info("REML on the latest %d of %d titles", REML_MAX_TITLES, len(titles))
        titles, y = titles.iloc[-REML_MAX_TITLES:], y[-REML_MAX_TITLES:]
    role_counts = pd.Series([role for cs in titles["talent"] for _, role in cs], dtype=object).value_counts()
    roles = [role for role, n in role_counts.items() if n >= MIN_ROLE_CREDITS]
    blocks = _random_blocks(design, roles)
    has_billing = "billing" in titles.columns and any(
        any(order >= 1 for order in orders) for orders in titles["billing"])
    billing_grid = BILLING_EXPONENT_GRID if has_billing else (0.0,)
    best, previous = None, None
    for billing_exponent in billing_grid:
        for exponent in EXPONENT_GRID:
            x = design.matrix(titles, exponent, start.genre_exponent, billing_exponent)
            fit = _reml(x, y, blocks, previous)
            previous = fit.variance_ratio
            if best is None or fit.neg_loglik < best[0].neg_loglik:
                best = (fit, (exponent, billing_exponent))
    return _hyperparameters_from_reml(best[0], best[1], start)


@dataclass(frozen=True)
class ResidualScale:
    """How wide a pitch's interval is, relative to the others: the typical size of an
    out-of-time error for a forecast of that size and familiarity, and for the next season
    of a show the model has seen,

        scale = exp(b0 + b1 * z + b2 * familiar + b3 * returning),   z = (point - centre) / spread,

    fitted by least squares to log(|residual| + delta) over the folds' residuals (delta, a
    tenth of the median |residual|, keeps exact hits finite). On catalogue data small
    audiences are much noisier on the log scale than large ones; one width for all
    over-covers the large titles and under-covers the small ones; and a returning show's
    earlier seasons make its next one easier to forecast. A term stays only when the
    residuals support it (|t| >= `SCALE_MIN_T`), so a history without such a pattern keeps
    one width for every pitch; and the scale is clipped to the range it takes on the folds,
    so a pitch outside that range is not extrapolated to. With fewer than
    `MIN_SCALE_RESIDUALS` residuals the scale is constant.
    """

    coef: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    centre: float = 0.0
    spread: float = 1.0
    log_bounds: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def fit(cls, predicted: np.ndarray, is_familiar: np.ndarray, residuals: np.ndarray,
            is_returning: np.ndarray) -> "ResidualScale":
        n = len(residuals)
        if n < MIN_SCALE_RESIDUALS:
            return cls()
        centre, spread = float(np.mean(predicted)), float(np.std(predicted)) or 1.0
        size = np.abs(residuals)
        target = np.log(size + (0.1 * float(np.median(size)) or 1e-6))
        terms = {1: (predicted - centre) / spread}
        for key, flags in ((2, is_familiar), (3, is_returning)):
            flag = np.asarray(flags, float)
            if min(flag.sum(), n - flag.sum()) >= MIN_GROUP_RESIDUALS:
                terms[key] = flag
        while terms:  # drop the weakest term until every one left has |t| >= SCALE_MIN_T
            design = np.column_stack([np.ones(n)] + list(terms.values()))
            coef, *_ = np.linalg.lstsq(design, target, rcond=None)
            fitted = design @ coef
            sigma2 = float(np.sum((target - fitted) ** 2)) / max(n - design.shape[1], 1)
            se = np.sqrt(np.maximum(np.diag(sigma2 * np.linalg.pinv(design.T @ design)), 1e-300))
            t = np.abs(coef[1:] / se[1:])
            if t.min() >= SCALE_MIN_T:
                break
            del terms[list(terms)[int(np.argmin(t))]]
        if not terms:
            return cls()
        full = [float(coef[0]), 0.0, 0.0, 0.0]
        for k, key in enumerate(terms, start=1):
            full[key] = float(coef[k])
        return cls(tuple(full), centre, spread, (float(fitted.min()), float(fitted.max())))

    def __call__(self, predicted: np.ndarray, is_familiar: np.ndarray, is_returning: np.ndarray) -> np.ndarray:
        z = (np.asarray(predicted, float) - self.centre) / self.spread
        b0, b1, b2, b3 = self.coef
        log_scale = np.clip(b0 + b1 * z + b2 * np.asarray(is_familiar, float) + b3 * np.asarray(is_returning, float),
                            *self.log_bounds)
        return np.exp(log_scale)


def _conformal_quantiles(residuals: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal lower and upper offsets, with the finite-sample correction."""
    n = len(residuals)
    tail = (1 - level) / 2
    ordered = np.sort(residuals)
    # Rounded before floor/ceil: (1 - 0.8) / 2 is 0.0999..., so 100 x tail would floor to 9.
    lo_rank = max(int(math.floor(round((n + 1) * tail, 9))), 1)
    hi_rank = min(int(math.ceil(round((n + 1) * (1 - tail), 9))), n)
    # Keep 0 inside so that p10 <= point <= p90 always holds.
    return min(float(ordered[lo_rank - 1]), 0.0), max(float(ordered[hi_rank - 1]), 0.0)


def fit(
    history: pd.DataFrame,
    target: str = "views_28d",
    *,
    scale: str = "auto",
    hyperparameters: Hyperparameters | None = None,
    n_folds: int = 5,
    interval_level: float = INTERVAL_LEVEL,
) -> "DemandModel":
    """Fit the demand model on released titles. See the module docstring for the steps.

    `scale` is "log" (counts), "logit" (proportions such as completion_rate) or "auto"
    (by the target's name). Pass `hyperparameters` to skip the REML estimate of the
    penalties (the time-ordered folds are still run, for the interval). `n_folds` is a
    whole number >= 1; `interval_level` a share strictly between 0 and 1 (0.8: p10 to p90).
    """
    if not is_number(n_folds, whole=True) or n_folds < 1:
        raise ValueError(f"n_folds must be a whole number >= 1 (time-ordered folds), got {n_folds!r}")
    if not is_number(interval_level) or not 0 < interval_level < 1:
        raise ValueError(f"interval_level must be a share strictly between 0 and 1 (0.8 for an 80% "
                         f"interval), got {interval_level!r}")
    target_scale = scale_for(target, scale)
    titles = normalise_titles(history, target=target, target_kind=target_scale.target_kind)
    if len(titles) < MIN_TITLES:
        raise ForecastInputError(
            f"history: need at least {MIN_TITLES} released titles to fit, got {len(titles)}"
        )
    titles = titles.sort_values(["release_date", "title_id"], kind="mergesort").reset_index(drop=True)
    y = target_scale.forward(titles[target])
    design = Design.learn(titles)
    masks = _time_folds(titles["release_date"], n_folds)
    if not masks:
        raise ForecastInputError(
            "history: all titles share too few release dates to hold any out for calibration"
        )
    folds = _Folds(design, titles, y, masks)

    hp = hyperparameters if hyperparameters is not None else _select(design, titles, y, Hyperparameters())
    cv = folds.cross_validate(hp)
    design.cast_exponent, design.genre_exponent = hp.cast_exponent, hp.genre_exponent
    design.billing_exponent = hp.billing_exponent
    x = design.matrix(titles)

    residual_scale = ResidualScale.fit(cv.predicted, cv.is_familiar, cv.residuals, cv.is_returning)
    interval = _conformal_quantiles(
        cv.residuals / residual_scale(cv.predicted, cv.is_familiar, cv.is_returning), interval_level)

    coef = _solve(x, y, _penalty(design, hp))
    log.info(
        "fitted %s model on %d titles (%d columns): %s, out-of-time RMSE %.3f on %d titles",
        target, len(titles), x.shape[1], hp, math.sqrt(cv.score), len(cv.residuals),
    )
    return DemandModel(
        target=target,
        scale=target_scale,
        design=design,
        coef=coef,
        hyperparameters=hp,
        interval_level=interval_level,
        interval=interval,
        residual_scale=residual_scale,
        cv_rmse=math.sqrt(cv.score),
        n_cv_residuals=len(cv.residuals),
        history=titles,
    )


@dataclass
class DemandModel:
    """A fitted model. Build it with `fit`; everything here reads only its training titles."""

    target: str
    scale: TargetScale
    design: Design
    coef: np.ndarray
    hyperparameters: Hyperparameters
    interval_level: float
    interval: tuple[float, float]  # conformal quantiles of residual / residual_scale
    residual_scale: ResidualScale
    cv_rmse: float
    n_cv_residuals: int
    history: pd.DataFrame

    def __post_init__(self) -> None:
        self._comparables: ComparableIndex | None = None
        self._known_credits = {c for cs in self.history["talent"] for c in cs}
        self._known_roles = {role for _, role in self._known_credits}
        self._known_shows = set(self.history["show_id"].dropna())

    def __repr__(self) -> str:
        return (
            f"DemandModel(target={self.target!r}, scale={self.scale.kind!r}, "
            f"n_titles={len(self.history)}, {self.hyperparameters}, cv_rmse={self.cv_rmse:.3f})"
        )

    @property
    def comparables_index(self) -> ComparableIndex:
        if self._comparables is None:
            self._comparables = ComparableIndex(self.history, self.target)
        return self._comparables

    @staticmethod
    def _frame(pitches: pd.DataFrame | dict | pd.Series) -> pd.DataFrame:
        if isinstance(pitches, pd.Series):
            return pitches.to_frame().T
        if isinstance(pitches, dict):
            return pd.DataFrame([pitches])
        return pitches

    def predict(self, pitches: pd.DataFrame, n_comparables: int = 5) -> pd.DataFrame:
        """Forecast each pitch: columns in `PREDICTION_COLUMNS`, one row per pitch, in the
        pitches' order and with their index (so `pitches.join(result)` lines up).

        `title_id` is the pitch's own, as given (`pitch-<n>` for the n-th pitch without
        one). `point` is the median forecast; `p10`/`p90` the 80% interval, on the target's
        own scale. `point_model_scale` is the linear predictor (log1p or logit), which the
        `explanation` records sum to. `comparables` is a list of
        {title_id, release_date, similarity, actual}; `explanation` a list of
        {component, feature, contribution, is_unseen}, as `explain` gives them. `unseen`
        names what the training history never had; `held_to_range` each runtime, episode
        count, budget or availability outside the training titles' range, which the model
        holds at the range's edge rather than extrapolating a straight line past it.
        """
        frame = self._frame(pitches)
        titles = normalise_titles(frame, who="pitches", is_history=False)
        x = self.design.matrix(titles)
        mu = x @ self.coef
        n_known, familiar = _familiarity(titles["talent"], self._known_credits)
        width = self.residual_scale(mu, familiar, _returning(titles["show_id"], self._known_shows))
        lo, hi = self.interval[0] * width, self.interval[1] * width
        title_ids = frame["title_id"] if "title_id" in frame.columns else titles["title_id"]
        out = pd.DataFrame({
            "title_id": title_ids.to_numpy(),
            "target": self.target,
            "point": self.scale.inverse_bound(mu),
            "p10": self.scale.inverse_bound(mu + lo),
            "p90": self.scale.inverse_bound(mu + hi),
            "point_model_scale": mu,
            "n_known_talent": n_known,
            "n_talent": titles["talent"].map(len).to_numpy(),
        }, index=frame.index)
        out["comparables"] = [
            self.comparables_index.nearest(row, n_comparables) if n_comparables else []
            for _, row in titles.iterrows()
        ]
        out["explanation"] = [
            self._explain_row(x.getrow(i), title).to_dict("records")
            for i, title in enumerate(titles.to_dict("records"))
        ]
        out["unseen"] = self._unseen(titles)
        out["held_to_range"] = self.design.out_of_range(titles)
        return out[PREDICTION_COLUMNS]

    def _unseen(self, titles: pd.DataFrame) -> list[list[str]]:
        """Per pitch, what the training history never had, so the model gives it no effect:
        a genre, a role, a language or a country (a typo shows here). New people are not
        listed; `n_known_talent` counts the people with a track record."""
        index = self.design.index
        notes = []
        for genres, credits, language, origin in zip(titles["genres"], titles["talent"],
                                                     titles["original_language"], titles["origin_country"]):
            found = [f"genre {g!r}" for g in genres if (BLOCK_GENRE, g) not in index]
            found += [f"role {role!r}" if role != UNSPECIFIED_ROLE else f"{talent_id!r} without a role"
                      for talent_id, role in credits if role not in self._known_roles]
            found += [f"{name} {value!r}" for name, block, value in (("original_language", BLOCK_LANGUAGE, language),
                                                                     ("origin_country", BLOCK_ORIGIN, origin))
                      if isinstance(value, str) and (block, value) not in index]
            notes.append(list(dict.fromkeys(found)))
        return notes

    @staticmethod
    def _term(block: str, key) -> tuple[str, str]:
        """A design column's (component, feature) in an explanation."""
        if block in (BLOCK_NUMERIC, BLOCK_TREND):
            return NUMERIC_GROUPS[key], NUMERIC_GROUPS[key]
        if block == BLOCK_TALENT:
            return "talent", f"{key[0]} ({key[1]})"
        if block == BLOCK_INTERCEPT:
            return "baseline", "average past title"
        return block, str(key)

    def _unseen_terms(self, title: dict) -> list[tuple[str, str]]:
        """The (component, feature) of each genre, language, origin, show and credit of a
        (canonical) pitch that the training history never had: no column, so no effect."""
        levels = [(BLOCK_GENRE, genre) for genre in title["genres"]]
        levels += [(block, title[column]) for block, column in (
            (BLOCK_LANGUAGE, "original_language"), (BLOCK_ORIGIN, "origin_country"), (BLOCK_SHOW, "show_id"))
            if title[column] is not None]
        levels += [(BLOCK_TALENT, credit) for credit in title["talent"]]
        return [self._term(block, key) for block, key in levels if (block, key) not in self.design.index]

    def _explain_row(self, row: sparse.csr_matrix, title: dict) -> pd.DataFrame:
        records: dict[tuple[str, str], float] = {}
        for j, value in zip(row.indices, row.data):
            name = self._term(*self.design.columns[j])
            records[name] = records.get(name, 0.0) + float(value * self.coef[j])
        frame = pd.DataFrame(
            [(c, f, v) for (c, f), v in records.items()],
            columns=["component", "feature", "contribution"],
        )
        is_baseline = frame["component"] == "baseline"
        rest = frame[~is_baseline].reindex(
            frame[~is_baseline]["contribution"].abs().sort_values(ascending=False).index
        )
        frame = pd.concat([frame[is_baseline], rest], ignore_index=True).assign(is_unseen=False)
        unseen = self._unseen_terms(title)
        if unseen:
            frame = pd.concat([frame, pd.DataFrame([(c, f, 0.0, True) for c, f in unseen],
                                                   columns=EXPLANATION_COLUMNS)], ignore_index=True)
        return frame

    def explain(self, pitch: pd.DataFrame | pd.Series | dict) -> pd.DataFrame:
        """Additive contributions on the model scale for one pitch.

        Columns (`EXPLANATION_COLUMNS`): component (baseline, format, runtime, episodes,
        budget, availability, season, trend, genre, language, origin, show, talent), feature
        (e.g. "drama", "t-0001 (director)"), contribution and is_unseen. Baseline first,
        then the largest |contribution|; they sum to the pitch's `point_model_scale`.
        Numeric terms are relative to the average training title. A genre, language,
        origin, show or credit the training history never had is listed last, with
        contribution 0 (the prior) and is_unseen true.
        """
        titles = normalise_titles(self._frame(pitch), who="pitches", is_history=False)
        if len(titles) != 1:
            raise ValueError(f"explain takes one pitch, got {len(titles)}; use predict for a slate")
        return self._explain_row(self.design.matrix(titles).getrow(0), titles.to_dict("records")[0])

    def effects(self) -> pd.DataFrame:
        """Every coefficient: block, feature, role, coefficient, effect, n_titles.

        `coefficient` is the raw model coefficient. `effect` is what the term adds, on the
        model scale, to the training titles that have it, on average: for talent and genres
        the coefficient times the mean weight (1 / n^a for n sharing the role, times
        billing_order^-c for a billed credit, or 1 / the number of genres); for numeric
        terms, the coefficient per standard deviation.
        """
        x = self.design.matrix(self.history).tocsc()
        n_titles = np.diff(x.indptr)
        sums = np.asarray(x.sum(axis=0)).ravel()
        mean_weight = np.divide(sums, n_titles, out=np.zeros_like(sums), where=n_titles > 0)
        rows = []
        for j, (block, key) in enumerate(self.design.columns):
            coefficient = float(self.coef[j])
            if block in (BLOCK_NUMERIC, BLOCK_TREND, BLOCK_INTERCEPT):
                rows.append((block, key, None, coefficient, coefficient, len(self.history)))
            elif block == BLOCK_TALENT:
                rows.append((block, key[0], key[1], coefficient, coefficient * mean_weight[j], int(n_titles[j])))
            else:
                rows.append((block, key, None, coefficient, coefficient * mean_weight[j], int(n_titles[j])))
        return pd.DataFrame(rows, columns=["block", "feature", "role", "coefficient", "effect", "n_titles"])

    def talent_effects(self) -> pd.DataFrame:
        """One row per (talent_id, role) seen in training: talent_id, role, effect,
        coefficient, n_titles; largest effect first. See `effects` for the two scales."""
        effects = self.effects()
        talent = effects[effects["block"] == BLOCK_TALENT].rename(columns={"feature": "talent_id"})
        return (
            talent[["talent_id", "role", "effect", "coefficient", "n_titles"]]
            .sort_values("effect", ascending=False, kind="mergesort")
            .reset_index(drop=True)
        )
