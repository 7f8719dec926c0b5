"""The 2-D toy densities: samples, exact log densities and entropies.

``toy_sample(name, n, seed)`` draws ``n`` points (float32, ``[n, 2]``) with a
NumPy generator seeded by ``seed`` (every draw comes from it);
``toy_log_prob(name, x)`` gives the exact log density for the densities
whose density is known in closed form (``KNOWN_DENSITIES``), so the KL gap
``E_p[log p - log q]`` of a model ``q`` can be measured, and
``toy_entropy(name)`` its differential entropy (nats). Besides the 8
Gaussians and the checkerboard:

* ``banana``: ``x1 ~ N(0, s1^2)``, ``x2 | x1 ~ N(b x1^2 - c, s2^2)``, so
  ``log p = log N(x1; 0, s1^2) + log N(x2; b x1^2 - c, s2^2)``;
* ``ringmix``: radius ``r ~ sum_k w_k N(R_k, s^2)`` (folded at 0), angle
  uniform; in the plane ``p(x) = p_r(|x|) / (2 pi |x|)``;
* ``funnel`` (Neal's, mild): ``x1 ~ N(0, 1)``, ``x2 | x1 ~ N(0, exp(a x1)^2)``;
  its entropy is ``log(2 pi e)``;
* ``gaussmix``: three axis-aligned Gaussians with unequal weights and shapes.

References: the toy set of FFJORD (Grathwohl et al., 2019, arXiv:1810.01367)
and neural spline flows (Durkan et al., 2019).
"""

from __future__ import annotations

import math

import numpy as np

from tfp_genmodels import _args

TOY_DENSITIES = ("moons", "8gaussians", "checkerboard", "rings", "pinwheel", "2spirals",
                 "circles", "swissroll", "banana", "ringmix", "funnel", "gaussmix")
#: Densities with a closed-form log density (``toy_log_prob``), so a model's KL gap
#: ``E_p[log p - log q]`` is measurable.
KNOWN_DENSITIES = ("8gaussians", "checkerboard", "banana", "ringmix", "funnel", "gaussmix")
_KNOWN_DENSITY = KNOWN_DENSITIES
# banana: x1 ~ N(0, s1^2), x2 | x1 ~ N(b x1^2 - c, s2^2) (a shear of a Gaussian).
_BANANA = dict(s1=1.2, s2=0.35, b=0.5, c=1.0)
# ringmix: radius ~ N(R_k, s^2) (k with weight w_k), angle uniform.
_RINGS = dict(radii=(1.0, 2.5), weights=(0.4, 0.6), s=0.12)
# funnel (Neal's, mild): v ~ N(0, 1), x2 | v ~ N(0, exp(a v)^2).
_FUNNEL_A = 0.9
# gaussmix: three axis-aligned Gaussians with unequal weights and shapes.
_GMIX = dict(weights=np.array([0.5, 0.3, 0.2]),
             means=np.array([[-1.5, -1.0], [1.5, 0.0], [0.0, 1.8]]),
             stds=np.array([[0.5, 0.3], [0.3, 0.7], [0.4, 0.4]]))
_EIGHT_SCALE, _EIGHT_STD = 2.0, 0.5  # centres on a circle of radius 2, std 0.5


def _check_name(name: str) -> None:
    if name not in TOY_DENSITIES:
        raise ValueError(f"`name` must be one of {TOY_DENSITIES}; got {name!r}.")


def _eight_centres() -> np.ndarray:
    angles = np.arange(8) * (2 * np.pi / 8)
    return _EIGHT_SCALE * np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def toy_sample(name: str, n: int, seed: int | None = 0) -> np.ndarray:
    """Draws ``n`` points of the toy density ``name``; same ``seed``, same points."""
    _check_name(name)
    n = _args.positive_int_arg(n, "n")
    rng = np.random.default_rng(seed)
    if name == "moons":
        t = rng.uniform(0, np.pi, n)
        upper = rng.random(n) < 0.5
        x = np.stack([np.where(upper, np.cos(t), 1 - np.cos(t)),
                      np.where(upper, np.sin(t), 0.5 - np.sin(t))], -1)
        x = (x - [0.5, 0.25]) * 2.0 + 0.1 * rng.standard_normal((n, 2))
    elif name == "8gaussians":
        x = _eight_centres()[rng.integers(0, 8, n)] + _EIGHT_STD * rng.standard_normal((n, 2))
    elif name == "checkerboard":
        # Uniform on the 8 dark unit squares of a 4x4 board on [-2, 2]^2.
        x1 = rng.uniform(-2, 2, n)
        x2 = rng.uniform(0, 1, n) + rng.integers(0, 2, n) * 2 - 2
        x = np.stack([x1, x2 + (np.floor(x1) % 2)], -1)
    elif name == "rings":
        radius = rng.integers(1, 5, n) * 0.75
        theta = rng.uniform(0, 2 * np.pi, n)
        x = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
        x += 0.08 * rng.standard_normal((n, 2))
    elif name == "pinwheel":
        k, rate = 5, 0.25
        angles = np.linspace(0, 2 * np.pi, k, endpoint=False)
        feats = rng.standard_normal((n, 2)) * [0.3, 0.05] + [1.0, 0.0]
        labels = rng.integers(0, k, n)
        rot = angles[labels] + rate * np.exp(feats[:, 0])
        c, s = np.cos(rot), np.sin(rot)
        x = 2.0 * np.stack([c * feats[:, 0] - s * feats[:, 1],
                            s * feats[:, 0] + c * feats[:, 1]], -1)
    elif name == "2spirals":
        t = np.sqrt(rng.uniform(0, 1, n)) * 540 * (2 * np.pi) / 360
        sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
        x = sign[:, None] * np.stack([-np.cos(t) * t, np.sin(t) * t], -1) / 3.0
        x += 0.1 * rng.standard_normal((n, 2))
    elif name == "circles":
        outer = rng.random(n) < 0.5
        theta = rng.uniform(0, 2 * np.pi, n)
        radius = np.where(outer, 3.0, 1.5)
        x = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
        x += 0.08 * rng.standard_normal((n, 2))
    elif name == "banana":
        x1 = _BANANA["s1"] * rng.standard_normal(n)
        x2 = _BANANA["b"] * x1 ** 2 - _BANANA["c"] + _BANANA["s2"] * rng.standard_normal(n)
        x = np.stack([x1, x2], -1)
    elif name == "ringmix":
        k = rng.choice(len(_RINGS["radii"]), n, p=_RINGS["weights"])
        radius = np.asarray(_RINGS["radii"])[k] + _RINGS["s"] * rng.standard_normal(n)
        radius = np.abs(radius)  # mass below 0 is < 1e-16 (R/s >= 8)
        theta = rng.uniform(0, 2 * np.pi, n)
        x = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
    elif name == "funnel":
        v = rng.standard_normal(n)
        x = np.stack([v, np.exp(_FUNNEL_A * v) * rng.standard_normal(n)], -1)
    elif name == "gaussmix":
        k = rng.choice(3, n, p=_GMIX["weights"])
        x = _GMIX["means"][k] + _GMIX["stds"][k] * rng.standard_normal((n, 2))
    else:  # swissroll
        t = 1.5 * np.pi * (1 + 2 * rng.uniform(0, 1, n))
        x = np.stack([t * np.cos(t), t * np.sin(t)], -1) / 5.0
        x += 0.1 * rng.standard_normal((n, 2))
    return x.astype(np.float32)


def toy_log_prob(name: str, x: np.ndarray) -> np.ndarray:
    """Exact log density (nats) of the toy density ``name`` at ``x`` (``[..., 2]``)."""
    _check_name(name)
    if name not in _KNOWN_DENSITY:
        raise ValueError(f"`name`: a closed-form density exists only for {_KNOWN_DENSITY}; "
                         f"got {name!r}.")
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (2,):
        raise ValueError(f"`x` must have shape [..., 2]; got {x.shape}.")
    if name == "8gaussians":
        sq = np.sum((x[..., None, :] - _eight_centres()) ** 2, axis=-1)
        comp = -sq / (2 * _EIGHT_STD ** 2) - math.log(2 * math.pi * _EIGHT_STD ** 2)
        top = comp.max(axis=-1, keepdims=True)
        return (top[..., 0] + np.log(np.mean(np.exp(comp - top), axis=-1)))
    if name != "checkerboard":
        return _smooth_log_prob(name, x)
    x1, x2 = x[..., 0], x[..., 1]
    inside = (np.abs(x1) <= 2) & (np.abs(x2) <= 2)
    dark = (np.floor(x1) + np.floor(x2)) % 2 == 0
    return np.where(inside & dark, -math.log(8.0), -np.inf)


def _normal_log_pdf(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi)


def _logsumexp(a, axis=-1):
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)))[..., 0]


def _smooth_log_prob(name: str, x: np.ndarray) -> np.ndarray:
    """Closed-form log densities of banana, ringmix, funnel and gaussmix."""
    x1, x2 = x[..., 0], x[..., 1]
    if name == "banana":
        b = _BANANA
        return (_normal_log_pdf(x1, 0.0, b["s1"])
                + _normal_log_pdf(x2, b["b"] * x1 ** 2 - b["c"], b["s2"]))
    if name == "ringmix":
        # Polar change of variables: p(x) = p(r) / (2 pi r), p(r) a mixture over rings.
        r = np.sqrt(x1 ** 2 + x2 ** 2)
        comps = np.stack([math.log(w) + _normal_log_pdf(r, radius, _RINGS["s"])
                          for radius, w in zip(_RINGS["radii"], _RINGS["weights"])], -1)
        # |radius| folds the normal at 0: add the mirrored mass (negligible, exact).
        comps_mirror = np.stack([math.log(w) + _normal_log_pdf(-r, radius, _RINGS["s"])
                                 for radius, w in zip(_RINGS["radii"], _RINGS["weights"])], -1)
        log_pr = _logsumexp(np.concatenate([comps, comps_mirror], -1))
        return log_pr - np.log(2 * math.pi * r)
    if name == "funnel":
        return _normal_log_pdf(x1, 0.0, 1.0) + _normal_log_pdf(x2, 0.0, np.exp(_FUNNEL_A * x1))
    g = _GMIX  # gaussmix
    comps = np.log(g["weights"]) + np.sum(
        _normal_log_pdf(x[..., None, :], g["means"], g["stds"]), axis=-1)
    return _logsumexp(comps)


def toy_entropy(name: str, num_samples: int = 200_000, seed: int = 123) -> float:
    """Differential entropy (nats): exact for the checkerboard, Monte Carlo otherwise."""
    if name == "checkerboard":
        return math.log(8.0)
    return float(-np.mean(toy_log_prob(name, toy_sample(name, num_samples, seed))))
