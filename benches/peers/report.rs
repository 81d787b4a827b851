//! The bench's results: one row per measurement with every sample of each
//! monitor, printed as a Markdown table of min / median / max and the
//! ratio of the medians (podmon/conmon), or as JSON.

use serde_json::{Value, json};

/// Who a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Podmon = 0,
    Conmon = 1,
    /// Bare `runc exec`, the floor of an exec through either monitor.
    Runc = 2,
}

impl Who {
    pub fn of(name: &str) -> Who {
        match name {
            "podmon" => Who::Podmon,
            "conmon" => Who::Conmon,
            _ => Who::Runc,
        }
    }
}

const NAMES: [&str; 3] = ["podmon", "conmon", "runc"];

struct Row {
    label: String,
    unit: &'static str,
    samples: [Vec<f64>; 3],
}

/// Rows in the order they were first pushed.
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

/// Min, median (the upper one of an even count) and max.
fn spread(xs: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    Some((*v.first()?, v[v.len() / 2], *v.last()?))
}

/// A number with as many decimals as its size deserves.
fn num(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    }
}

impl Table {
    pub fn push(&mut self, label: &str, unit: &'static str, who: Who, value: f64) {
        let i = match self.rows.iter().position(|r| r.label == label) {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    label: label.to_owned(),
                    unit,
                    samples: Default::default(),
                });
                self.rows.len() - 1
            }
        };
        self.rows[i].samples[who as usize].push(value);
    }

    fn cell(xs: &[f64]) -> String {
        match spread(xs) {
            Some((lo, mid, hi)) => format!("{} / {} / {}", num(lo), num(mid), num(hi)),
            None => String::new(),
        }
    }

    fn ratio(r: &Row) -> Option<f64> {
        let (_, p, _) = spread(&r.samples[0])?;
        let (_, c, _) = spread(&r.samples[1])?;
        (c != 0.0).then(|| p / c)
    }

    /// The Markdown table.
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| measurement | podmon min / median / max | conmon min / median / max | podmon/conmon | bare `runc exec` |\n\
             | --- | ---: | ---: | ---: | ---: |\n",
        );
        for r in &self.rows {
            s += &format!(
                "| {} ({}) | {} | {} | {} | {} |\n",
                r.label,
                r.unit,
                Table::cell(&r.samples[0]),
                Table::cell(&r.samples[1]),
                Table::ratio(r).map_or(String::new(), |x| format!("{x:.2}")),
                Table::cell(&r.samples[2]),
            );
        }
        s
    }

    /// Every row with its samples, summaries and ratio.
    pub fn json(&self, header: &Value) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let mut o =
                    json!({ "measurement": r.label, "unit": r.unit, "ratio": Table::ratio(r) });
                for (i, xs) in r.samples.iter().enumerate() {
                    if let Some((lo, mid, hi)) = spread(xs) {
                        o[NAMES[i]] = json!({ "min": lo, "median": mid, "max": hi, "samples": xs });
                    }
                }
                o
            })
            .collect();
        json!({ "run": header, "rows": rows })
    }
}
