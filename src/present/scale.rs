//! The scales and smoothing of the overestimation figure, shared by the SVG
//! export and the dashboard. The symmetric-log scale: symlog(y) = sign(y)·log10(1 + |y|/c), linear
//! near zero and logarithmic beyond ±c, so −10 ≤ returns ≤ 1 and Q-values
//! of 10⁶ fit one axis. Ticks sit at 0 and ±c·10^k (`…, −10, −1, 0, 1, 10, 100, …`).

/// Exponential moving average (TensorBoard's smoothing, debiased so the
/// start is not pulled towards zero).
#[derive(Debug, Clone, Copy)]
pub struct Ema {
    weight: f64,
    last: f64,
    debias: f64,
}

impl Ema {
    pub fn new(weight: f64) -> Self {
        Ema {
            weight,
            last: 0.0,
            debias: 1.0,
        }
    }

    /// The smoothed value after `v`.
    pub fn next(&mut self, v: f64) -> f64 {
        if self.weight <= 0.0 {
            return v;
        }
        self.last = self.last * self.weight + (1.0 - self.weight) * v;
        self.debias *= self.weight;
        self.last / (1.0 - self.debias)
    }
}

/// The mean of n values from the mean of the first n − 1 and the n-th, as
/// a convex combination: finite values up to f64::MAX never overflow.
pub fn running_mean(mean: f64, value: f64, n: usize) -> f64 {
    let n = n as f64;
    mean * ((n - 1.0) / n) + value / n
}

/// The linear threshold c.
pub const LINEAR_WIDTH: f64 = 1.0;

pub fn symlog(y: f64) -> f64 {
    y.signum() * (y.abs() / LINEAR_WIDTH).ln_1p() / std::f64::consts::LN_10
}

/// The inverse of [`symlog`].
pub fn symexp(t: f64) -> f64 {
    t.signum() * LINEAR_WIDTH * (t.abs() * std::f64::consts::LN_10).exp_m1()
}

/// Tick values (in data units) for a symlog axis spanning `lo..=hi`
/// (data units): 0 if inside, and ±10^k, thinned to at most `max_ticks` by
/// keeping every n-th decade.
pub fn symlog_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    // Decades first; on a short axis also 2 and 5 times them, so a return
    // axis from 0 to 0.8 still gets readable ticks.
    // The decade of the largest magnitude on the axis.
    let top = (lo.abs().max(hi.abs()) / LINEAR_WIDTH)
        .log10()
        .floor()
        .clamp(-3.0, 300.0) as i32;
    let candidates = |mantissas: &[f64], from: i32| -> Vec<f64> {
        let mut ticks: Vec<f64> = (from..=top)
            .flat_map(|k| mantissas.iter().map(move |m| m * LINEAR_WIDTH * decade(k)))
            .flat_map(|t| [-t, t])
            .chain(std::iter::once(0.0))
            .filter(|&t| t >= lo && t <= hi)
            .collect();
        ticks.sort_by(f64::total_cmp);
        ticks
    };
    let decades = candidates(&[1.0], 0);
    let ticks = if decades.len() > max_ticks {
        // Many decades (Q running away to 1e300): every 2nd, 5th, 10th, …
        // decade, so the labels stay round (1e100, 1e200, 1e300).
        let every = |step: i32| {
            decades
                .iter()
                .copied()
                .filter(|t| *t == 0.0 || (t.abs().log10().round() as i32) % step == 0)
                .collect::<Vec<f64>>()
        };
        return [1, 2, 5, 10, 20, 25, 50, 100]
            .into_iter()
            .map(every)
            .find(|ticks| ticks.len() <= max_ticks.max(1))
            .unwrap_or_else(|| thin(every(100), max_ticks));
    } else if decades.len() >= 4 {
        decades
    } else {
        // Two decades of 1-2-5 steps below the largest value.
        candidates(&[1.0, 2.0, 5.0], top - 1)
    };
    thin(ticks, max_ticks)
}

/// 10^k exactly (the nearest f64; `powi` drifts: 1.0000000000000002e100).
fn decade(k: i32) -> f64 {
    format!("1e{k}").parse().expect("a decimal exponent")
}

/// Evenly spaced "nice" ticks (1, 2, 5 × 10^k steps) for a linear axis.
pub fn linear_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) || max_ticks < 2 {
        return vec![lo];
    }
    let raw = span / (max_ticks - 1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let multiple = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| span / (m * magnitude) <= (max_ticks - 1) as f64)
        .unwrap_or(10.0);
    let step = multiple * magnitude;
    // Dividing by an integer power of ten keeps 0.6 from becoming 0.6000000000000001.
    let at = |i: i64| {
        if magnitude < 1.0 {
            i as f64 * multiple / (1.0 / magnitude).round()
        } else {
            i as f64 * step
        }
    };
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(at).collect()
}

/// Ticks for a logarithmic axis over `lo..=hi` (both > 0): the decades
/// inside, thinned to every 2nd, 5th, … decade past `max_ticks`; on an
/// axis shorter than two decades, 1-2-5 steps as on a linear one.
pub fn log_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    if !(lo > 0.0 && hi.is_finite()) {
        return vec![];
    }
    let (first, last) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
    if last - first < 1 {
        let ticks: Vec<f64> = (first - 1..=last)
            .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * decade(k)))
            .filter(|t| (lo..=hi).contains(t))
            .collect();
        return thin(ticks, max_ticks);
    }
    let mut step = 1;
    while (last - first) / step + 1 > max_ticks.max(1) as i32 {
        step = [2, 5, 10, 20, 50, 100]
            .into_iter()
            .find(|&s| s > step)
            .unwrap_or(step * 10);
    }
    (first..=last)
        .filter(|k| k.rem_euclid(step) == 0)
        .map(decade)
        .collect()
}

/// Keeps at most `max` ticks, always including 0 when present.
fn thin(ticks: Vec<f64>, max: usize) -> Vec<f64> {
    if ticks.len() <= max.max(1) {
        return ticks;
    }
    let every = ticks.len().div_ceil(max.max(1));
    let zero = ticks.iter().position(|&t| t == 0.0).unwrap_or(0);
    ticks
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i.abs_diff(zero) % every == 0)
        .map(|(_, t)| t)
        .collect()
}

/// A short tick label: `0`, `1`, `-10`, `100`, `1k`, `1e6`, `0.5`.
pub fn format_tick(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        // As `{}` prints them (a diverged run's values), not `NaNe2147483647`.
        format!("{v}")
    } else if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        let exponent = a.log10().floor() as i32;
        let mantissa = v / 10f64.powi(exponent);
        if (mantissa - mantissa.round()).abs() < 1e-9 {
            format!("{}e{exponent}", mantissa.round())
        } else {
            format!("{mantissa:.1}e{exponent}")
        }
    } else if a >= 1000.0 && (a % 1000.0) == 0.0 {
        format!("{}k", v / 1000.0)
    } else if a >= 1.0 && v.fract() == 0.0 {
        format!("{v}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn symlog_is_linear_near_zero_and_logarithmic_far_out() {
        assert_eq!(symlog(0.0), 0.0);
        assert!((symlog(9.0) - 1.0).abs() < 1e-12);
        assert!((symlog(-99.0) + 2.0).abs() < 1e-12);
        assert!((symlog(1e-6) - 1e-6 / std::f64::consts::LN_10).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn symexp_inverts_symlog(y in -1e12f64..1e12) {
            let back = symexp(symlog(y));
            prop_assert!((back - y).abs() <= 1e-9 * (1.0 + y.abs()));
        }

        #[test]
        fn symlog_is_monotone(a in -1e9f64..1e9, b in -1e9f64..1e9) {
            prop_assume!(a < b);
            prop_assert!(symlog(a) < symlog(b));
        }
    }

    #[test]
    fn ticks_are_decades_and_zero() {
        assert_eq!(
            symlog_ticks(-12.0, 150.0, 20),
            vec![-10.0, -1.0, 0.0, 1.0, 10.0, 100.0]
        );
        assert_eq!(
            symlog_ticks(0.0, 0.9, 10),
            vec![0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
        );
        assert_eq!(symlog_ticks(0.0, 0.9, 4), vec![0.0, 0.02, 0.1, 0.5]);
        assert_eq!(
            symlog_ticks(-5.5, 1.1, 7),
            vec![-5.0, -1.0, -0.2, 0.0, 0.2, 1.0]
        );
        let many = symlog_ticks(-1e9, 1e9, 7);
        assert!(many.len() <= 7 && many.contains(&0.0), "{many:?}");
        // Q running away: round decades, up to the largest value.
        assert_eq!(
            symlog_ticks(0.0, 1.5e300, 7),
            vec![0.0, 1.0, 1e100, 1e200, 1e300]
        );
        assert_eq!(
            symlog_ticks(-2.0, 1e299, 7),
            vec![-1.0, 0.0, 1.0, 1e100, 1e200]
        );
        assert_eq!(
            linear_ticks(0.0, 1.0, 6),
            vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        );
        assert_eq!(linear_ticks(-3.0, 7.0, 3), vec![0.0, 5.0]);
    }

    #[test]
    fn log_ticks_are_decades_inside_the_range() {
        assert_eq!(log_ticks(1.0, 1e4, 8), vec![1.0, 10.0, 100.0, 1e3, 1e4]);
        assert_eq!(log_ticks(3e-4, 0.2, 8), vec![1e-3, 1e-2, 0.1]);
        assert_eq!(log_ticks(1.0, 1e12, 4), vec![1.0, 1e5, 1e10]);
        assert_eq!(log_ticks(2.0, 30.0, 8), vec![2.0, 5.0, 10.0, 20.0]);
        assert!(log_ticks(0.0, 10.0, 8).is_empty());
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(format_tick(0.0), "0");
        assert_eq!(format_tick(-10.0), "-10");
        assert_eq!(format_tick(2000.0), "2k");
        assert_eq!(format_tick(1e6), "1e6");
        assert_eq!(format_tick(1e5), "100k");
        assert_eq!(format_tick(0.0005), "5e-4");
        assert_eq!(format_tick(0.25), "0.25");
        assert_eq!(format_tick(1e300), "1e300");
        assert_eq!(format_tick(-1.5e300), "-1.5e300");
        // A diverged run's heatmap cells.
        assert_eq!(format_tick(f64::NAN), "NaN");
        assert_eq!(format_tick(f64::NEG_INFINITY), "-inf");
    }

    /// Means of values near f64::MAX stay finite (a sum would not).
    #[test]
    fn running_means_never_overflow() {
        let mut mean = 0.0;
        for (n, v) in [1e308, 1.5e308, 1.7e308].into_iter().enumerate() {
            mean = running_mean(mean, v, n + 1);
        }
        assert!(mean.is_finite() && (mean - 1.4e308).abs() < 1e294, "{mean}");
        assert_eq!(running_mean(0.0, 3.0, 1), 3.0);
        assert_eq!(running_mean(3.0, 5.0, 2), 4.0);
    }

    #[test]
    fn ema_is_debiased_and_zero_weight_is_identity() {
        let ema = |values: &[f64], w: f64| {
            let mut e = Ema::new(w);
            values.iter().map(|&v| e.next(v)).collect::<Vec<f64>>()
        };
        assert_eq!(ema(&[1.0, 2.0], 0.0), vec![1.0, 2.0]);
        let s = ema(&[5.0, 5.0, 5.0], 0.9);
        assert!(s.iter().all(|v| (v - 5.0).abs() < 1e-12), "{s:?}");
        let s = ema(&[0.0, 10.0], 0.5);
        assert!((s[1] - 10.0 * 0.5 / 0.75).abs() < 1e-12);
    }
}
