//! `pessimist plot` (issue 22): figures a researcher can put in a paper.
//! Every SVG is parsed as XML; its panels (captions), series (mean lines,
//! 2 px) and legend entries (swatches, 3 px) are counted, and every text is
//! measured with the font the figure was laid out with: none leaves the
//! canvas. PNGs are decoded at the size asked for.

use plotters::style::IntoFont;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LEFT: &str = "true discounted return J(π), what Q estimates";
const RIGHT: &str = "Q estimate q_est of J(π)";

fn pessimist<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_pessimist"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `pessimist ARGS`, which must succeed; its stderr.
fn ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = pessimist(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// Runs `pessimist ARGS`, which must fail; its stderr.
fn fails(args: &[&str]) -> String {
    let out = pessimist(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
    stderr
}

/// A store `runs` trained from `specs` (file name, text) in `dir/experiments`.
fn store(dir: &Path, specs: &[(&str, &str)]) -> PathBuf {
    let experiments = dir.join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    let runs = dir.join("runs");
    for (name, text) in specs {
        std::fs::write(experiments.join(name), text).unwrap();
        ok([
            "run".as_ref(),
            experiments.join(name).as_os_str(),
            "--runs".as_ref(),
            runs.as_os_str(),
        ]);
    }
    runs
}

struct Text {
    x: f64,
    y: f64,
    size: f64,
    anchor: String,
    /// Plotters' vertical anchor: `0.76em` top, `0.5ex` centre, `-0.5ex` bottom.
    dy: String,
    rotated: bool,
    content: String,
}

/// What a test reads back from an SVG figure.
struct Svg {
    width: f64,
    height: f64,
    texts: Vec<Text>,
    /// Polylines drawn `stroke-width` 2 (mean curves) and 3 (legend swatches).
    means: usize,
    swatches: usize,
}

impl Svg {
    fn read(path: &Path) -> Svg {
        let text = std::fs::read_to_string(path).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not valid XML: {e}", path.display()));
        let root = doc.root_element();
        let number = |n: roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
        let width_of = |w: &str| {
            doc.descendants()
                .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some(w))
                .count()
        };
        Svg {
            width: number(root, "width"),
            height: number(root, "height"),
            texts: doc
                .descendants()
                .filter(|n| n.has_tag_name("text"))
                .map(|n| Text {
                    x: number(n, "x"),
                    y: number(n, "y"),
                    size: number(n, "font-size"),
                    anchor: n.attribute("text-anchor").unwrap_or("start").into(),
                    dy: n.attribute("dy").unwrap_or_default().into(),
                    rotated: n.attribute("transform").is_some(),
                    content: n.text().unwrap_or_default().trim().to_string(),
                })
                .collect(),
            means: width_of("2"),
            swatches: width_of("3"),
        }
    }

    fn count(&self, text: &str) -> usize {
        self.texts.iter().filter(|t| t.content == text).count()
    }

    fn all_text(&self) -> String {
        self.texts
            .iter()
            .map(|t| t.content.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every text inside the canvas, measured with the figure's font
    /// (plotters writes SVG font sizes as the pixel size / 1.24).
    fn assert_inside(&self, what: &str) {
        pessimist::present::figure::register_fonts();
        for t in &self.texts {
            let (w, h) = ("sans-serif", t.size * 1.24)
                .into_font()
                .box_size(&t.content)
                .unwrap();
            let (w, h) = (f64::from(w), f64::from(h));
            // A rotated text (a y axis name) is centred on (x, y).
            let (left, top, w, h) = if t.rotated {
                (t.x - h, t.y - w / 2.0, h, w)
            } else {
                let left = match t.anchor.as_str() {
                    "middle" => t.x - w / 2.0,
                    "end" => t.x - w,
                    _ => t.x,
                };
                let top = match t.dy.as_str() {
                    "0.76em" => t.y,
                    "-0.5ex" => t.y - h,
                    _ => t.y - h / 2.0,
                };
                (left, top, w, h)
            };
            assert!(
                left >= -1.0
                    && left + w <= self.width + 1.0
                    && top >= -1.0
                    && t.y + h <= self.height + 1.0,
                "{what}: {:?} at ({}, {}), {w}x{h}, leaves the {}x{} canvas",
                t.content,
                t.x,
                t.y,
                self.width,
                self.height
            );
        }
    }
}

const TRAP: &str = "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0, 1]\niterations = 20\n\
eval_every = 10\ndataset = { policy = \"random\", size = 200 }\n[[algo]]\nname = \"bc\"\n\
[[algo]]\nname = \"fqi\"\n";

const LAKE: &str = "name = \"lake\"\nenv = [\"FrozenLake-v1\", \"CliffWalking-v1\"]\ngamma = 0.9\n\
seeds = [0, 1]\niterations = 20\neval_every = 10\n\
dataset = { policy = \"medium\", size = [200, 1_000] }\n[[algo]]\nname = \"fqi\"\nq_init = \"random\"\n";

/// Two specs: a figure each, in a directory or by a `{spec}` pattern;
/// one algorithm gets the BEAR figure (a line per dataset), two get
/// algorithms compared; each environment its own row; a PNG at the size
/// asked for; the heatmap of the one run a selection picks.
#[test]
fn two_specs_give_a_figure_each_with_a_row_per_environment() {
    let dir = tempfile::tempdir().unwrap();
    let runs = store(dir.path(), &[("trap.toml", TRAP), ("lake.toml", LAKE)]);
    let runs = runs.to_str().unwrap();
    let figs = dir.path().join("figs");
    let stderr = ok(["plot", runs, "--out", figs.to_str().unwrap()]);
    let mut written: Vec<String> = std::fs::read_dir(&figs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["lake.svg", "trap.svg"], "{stderr}");

    // bc and fqi: algorithms compared, both panels, one row.
    let trap = Svg::read(&figs.join("trap.svg"));
    assert_eq!((trap.count(LEFT), trap.count(RIGHT)), (1, 1));
    assert_eq!((trap.means, trap.swatches), (4, 2));
    assert_eq!((trap.count("bc"), trap.count("fqi")), (1, 1));
    assert!(trap.all_text().contains("algorithms compared"));
    trap.assert_inside("trap.svg");

    // fqi alone: the BEAR figure, a row per environment, a line per size.
    let lake = Svg::read(&figs.join("lake.svg"));
    assert_eq!((lake.count(LEFT), lake.count(RIGHT)), (2, 2));
    assert_eq!(
        (lake.count("CliffWalking-v1"), lake.count("FrozenLake-v1")),
        (1, 1)
    );
    assert_eq!((lake.count("medium 200"), lake.count("medium 1k")), (1, 1));
    assert_eq!((lake.means, lake.swatches), (8, 2));
    assert!(lake.all_text().contains("bands: ± one sample std"));
    // The x axis ends at the last iteration, 20.
    assert!(
        lake.count("20") >= 4 && lake.count("50") == 0,
        "{}",
        lake.all_text()
    );
    lake.assert_inside("lake.svg");

    // Several specs and one file: refused, naming the ways out.
    let f = dir.path().join("f.svg");
    let e = fails(&["plot", runs, "--out", f.to_str().unwrap()]);
    assert!(
        e.contains("2 specs are selected (lake, trap)") && e.contains("{spec}"),
        "{e}"
    );

    let pattern = dir.path().join("png").join("{spec}.png");
    ok([
        "plot",
        runs,
        "--out",
        pattern.to_str().unwrap(),
        "--size",
        "900x700",
    ]);
    for spec in ["lake", "trap"] {
        let file = std::fs::File::open(dir.path().join("png").join(format!("{spec}.png"))).unwrap();
        let reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .unwrap();
        assert_eq!(
            (reader.info().width, reader.info().height),
            (900, 700),
            "{spec}"
        );
    }
    let e = fails(&[
        "plot", runs, "--spec", "lake", "--out", "x.svg", "--size", "300x200",
    ]);
    assert!(e.contains("too small") && e.contains("by itself"), "{e}");

    // Algorithms compared on lake: a row per environment and dataset;
    // --seeds draws each seed thin, under the mean.
    let overlay = dir.path().join("overlay.svg");
    let o = overlay.to_str().unwrap();
    ok([
        "plot", runs, "--spec", "lake", "--layout", "overlay", "--seeds", "--out", o,
    ]);
    let overlay = Svg::read(&overlay);
    assert_eq!(overlay.count(LEFT), 4);
    assert_eq!(overlay.count("FrozenLake-v1 · medium 1k"), 1);
    assert_eq!((overlay.means, overlay.swatches), (8, 1));
    assert!(overlay.all_text().contains("thin lines: each seed"));

    // The dashboard's `e` exports its chart through the same figures.
    let experiments = dir.path().join("experiments");
    let e = experiments.to_str().unwrap();
    ok(["tui", e, "--headless", "--frames", "1", "--keys", "e"]);
    let exported: Vec<PathBuf> = ["lake", "trap"]
        .iter()
        .flat_map(|spec| std::fs::read_dir(Path::new(runs).join(spec)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    let [export] = exported.as_slice() else {
        panic!("{exported:?}")
    };
    // Algorithms compared: lake has a row per environment and dataset.
    let rows = if export.parent().unwrap().ends_with("lake") {
        4
    } else {
        1
    };
    let export = Svg::read(export);
    assert_eq!((export.count(LEFT), export.count(RIGHT)), (rows, rows));
    export.assert_inside("the dashboard's export");

    // The heatmap needs exactly one run.
    let heat = dir.path().join("heat.svg");
    let h = heat.to_str().unwrap();
    let e = fails(&[
        "plot", runs, "--spec", "lake", "--layout", "heatmap", "--out", h,
    ]);
    assert!(e.contains("the selection picks 8"), "{e}");
    let filter = "FrozenLake 200 seed=0";
    ok([
        "plot", runs, "--spec", "lake", "--filter", filter, "--layout", "heatmap", "--out", h,
    ]);
    let heat = Svg::read(&heat);
    // FrozenLake's 4x4 map: four holes and the goal, by their letters.
    assert_eq!(
        (heat.count("H"), heat.count("G")),
        (4, 1),
        "{}",
        heat.all_text()
    );
    assert_eq!(heat.count("max_a Q(s,a) − V^π(s) and π's action"), 1);
    heat.assert_inside("heat.svg");
}

/// Dataset file names with escape sequences, `<&>` and 190 more
/// characters: the legend (one entry per dataset) wraps them inside the
/// canvas and the document stays valid XML; the PNG draws too.
#[test]
fn hostile_labels_stay_valid_xml_inside_the_canvas() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    let names = [
        format!("evil\u{1b}]0;pwned\u{7}<&>{}.csv", "x".repeat(190)),
        format!("csi\u{9b}31m{}.csv", "y w".repeat(64)),
    ];
    for (seed, name) in names.iter().enumerate() {
        let seed = seed.to_string();
        let path = experiments.join(name);
        ok([
            "data",
            "collect",
            "--env",
            "ImitationTrap-v0",
            "--policy",
            "behavior",
            "--size",
            "200",
            "--seed",
            &seed,
            "-o",
            path.to_str().unwrap(),
        ]);
    }
    let escaped: Vec<String> = names
        .iter()
        .map(|n| {
            n.replace('\u{1b}', "\\u001b")
                .replace('\u{7}', "\\u0007")
                .replace('\u{9b}', "\\u009b")
        })
        .collect();
    let spec = format!(
        "name = \"hostile\"\nenv = \"ImitationTrap-v0\"\ngamma = 0.9\niterations = 20\neval_every = 10\n\
         dataset = {{ file = [\"{}\", \"{}\"] }}\n[[algo]]\nname = \"fqi\"\n",
        escaped[0], escaped[1]
    );
    let runs = store(dir.path(), &[("hostile.toml", &spec)]);
    let svg = dir.path().join("hostile.svg");
    ok([
        "plot".as_ref(),
        runs.as_os_str(),
        "--out".as_ref(),
        svg.as_os_str(),
    ]);
    let figure = Svg::read(&svg);
    let text = figure.all_text();
    assert!(text.contains("pwned") && text.contains("<&>"), "{text}");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    // Every character of the long names is there, over several lines.
    assert_eq!(text.matches('x').count(), 190, "{text}");
    assert_eq!(figure.swatches, 2);
    figure.assert_inside("hostile.svg");
    let png = dir.path().join("hostile.png");
    ok([
        "plot".as_ref(),
        runs.as_os_str(),
        "--out".as_ref(),
        png.as_os_str(),
    ]);
    let reader = png::Decoder::new(std::fs::File::open(&png).unwrap())
        .read_info()
        .unwrap();
    assert!(reader.info().width > 600 && reader.info().height > 300);
}

/// The `pessimist plot` lines of scripts/figures.sh, which draw the
/// README's figures, on small stores of specs named as the bundled ones:
/// each draws, parses, and has its panels.
#[test]
fn the_readme_figures_draw_from_their_script() {
    let bear = "name = \"why-offline-rl-is-hard\"\nenv = \"FrozenLake-v1\"\ngamma = 0.99\nseeds = [0, 1]\n\
        iterations = 20\neval_every = 10\ndataset = { policy = \"medium\", size = [200, 1_000] }\n\
        [[algo]]\nname = \"fqi\"\nq_init = \"random\"\n[[algo]]\nname = \"bc\"\n";
    let linear = "name = \"why-offline-rl-is-hard-linear\"\nenv = [\"FrozenLake-v1\", \"CliffWalking-v1\"]\n\
        gamma = 0.99\nseeds = [0, 1]\niterations = 10\neval_every = 5\n\
        dataset = { policy = \"medium\", size = [200, 1_000] }\n\
        features = { kind = \"rbf\", centres = 4, width = 0.25, actions = \"blocks\" }\n\
        [[algo]]\nname = \"fqi\"\nvariant = \"sweep\"\n";
    let mountain_car = "name = \"why-offline-rl-is-hard-mountaincar\"\nenv = \"MountainCar-v0\"\n\
        gamma = 0.99\nseeds = [0, 1]\niterations = 10\neval_every = 5\nrollouts = 4\n\
        dataset = { policy = \"expert\", epsilon = 0.05, size = [200, 1_000] }\n\
        features = { kind = \"tile\", tilings = 8, tiles = 8 }\n\
        [[algo]]\nname = \"fqi\"\nvariant = \"sweep\"\n[[algo]]\nname = \"atac\"\n";
    let atac = "name = \"atac_beta\"\nenv = [\"FrozenLake-v1\", \"CliffWalking-v1\"]\ngamma = 0.99\n\
        seeds = [0, 1]\niterations = 20\neval_every = 10\ndataset = { policy = \"medium\", size = 500 }\n\
        [[algo]]\nname = \"bc\"\n[[algo]]\nname = \"atac\"\nbeta = [0, 1, 10, 100]\n";
    let dir = tempfile::tempdir().unwrap();
    let runs = store(
        dir.path(),
        &[
            ("bear.toml", bear),
            ("linear.toml", linear),
            ("mountain_car.toml", mountain_car),
            ("atac.toml", atac),
        ],
    );
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/figures.sh"))
            .unwrap();
    let lines: Vec<&str> = script
        .lines()
        .filter(|l| l.starts_with("\"$pessimist\" plot \"$RUNS\""))
        .collect();
    assert_eq!(lines.len(), 4, "{script}");
    for line in lines {
        let args: Vec<String> = line
            .split_whitespace()
            .skip(1)
            .map(|a| match a {
                "\"$RUNS\"" => runs.display().to_string(),
                a => match a.strip_prefix("assets/") {
                    Some(file) => dir.path().join(file).display().to_string(),
                    None => a.to_string(),
                },
            })
            .collect();
        ok(&args);
    }
    let bear = Svg::read(&dir.path().join("why_offline_rl_is_hard.svg"));
    assert_eq!(
        (
            bear.count(LEFT),
            bear.count(RIGHT),
            bear.count("FrozenLake-v1")
        ),
        (1, 1, 1)
    );
    assert_eq!((bear.swatches, bear.means), (2, 4));
    assert_eq!((bear.count("medium 200"), bear.count("bc")), (1, 0));
    bear.assert_inside("the BEAR figure");

    let linear = Svg::read(&dir.path().join("why_offline_rl_is_hard_linear.svg"));
    assert_eq!((linear.count(LEFT), linear.count(RIGHT)), (2, 2));
    assert_eq!(
        (
            linear.count("FrozenLake-v1"),
            linear.count("CliffWalking-v1")
        ),
        (1, 1)
    );
    assert!(linear.all_text().contains("bands: min–max over seeds"));
    linear.assert_inside("the linear figure");

    // fqi alone, its two panels with numbered axes on Monte-Carlo returns.
    let car = Svg::read(&dir.path().join("why_offline_rl_is_hard_mountaincar.svg"));
    assert_eq!(
        (
            car.count(LEFT),
            car.count(RIGHT),
            car.count("MountainCar-v0")
        ),
        (1, 1, 1)
    );
    assert_eq!((car.swatches, car.count("atac")), (2, 0));
    car.assert_inside("the MountainCar figure");

    // A panel per environment, β on x; bc and the behaviour dashed.
    let sweep = Svg::read(&dir.path().join("atac_beta.svg"));
    assert_eq!(
        sweep.count("final normalized score (D4RL)"),
        2,
        "{}",
        sweep.all_text()
    );
    assert_eq!(
        (sweep.count("FrozenLake-v1"), sweep.count("CliffWalking-v1")),
        (1, 1)
    );
    assert_eq!(
        (
            sweep.count("atac"),
            sweep.count("bc"),
            sweep.count("behaviour")
        ),
        (1, 1, 1)
    );
    assert_eq!(
        sweep.swatches,
        1 + 2 * 3,
        "one solid swatch, two dashed of three strokes each"
    );
    // β = 0, 1, 10, 100: a symlog axis ticked at each.
    for tick in ["0", "1", "10", "100"] {
        assert!(sweep.count(tick) >= 2, "{tick}: {}", sweep.all_text());
    }
    sweep.assert_inside("the β curve");
}
