//! Our orders against the ecosystems' own tools, on real versions from the advisory data in
//! `shared/vulndb` and this machine's packages, plus generated near-equal variants.
//!
//! Each scheme's pairs go to its oracle in one process (dpkg: one shell loop). Pairs the
//! oracle itself rejects as invalid are skipped and counted; run with `--nocapture` to see
//! the counts. Apk and Go have no oracle here: apk is checked against apk-tools' own vectors
//! (`tests/data/apk-versions.txt`), and both are checked for order laws on real data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use portcullis_version::{Scheme, Version};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PAIRS_PER_SCHEME: usize = 700;

/// A small deterministic generator (SplitMix64), so the pairs are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn vulndb() -> PathBuf {
    portcullis_testing::seed_vulndb()
}

/// The version strings and the ranges (as event lists) of one OSV archive.
struct Osv {
    versions: Vec<String>,
    ranges: Vec<Vec<(String, String)>>,
}

fn osv(archive: &str) -> Osv {
    let path = vulndb().join(archive);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut versions = BTreeSet::new();
    let mut ranges = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.path().unwrap().to_string_lossy().ends_with(".json") {
            continue;
        }
        let mut text = Vec::new();
        entry.read_to_end(&mut text).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&text).unwrap();
        for affected in record["affected"].as_array().into_iter().flatten() {
            for range in affected["ranges"].as_array().into_iter().flatten() {
                if range["type"] == "GIT" {
                    continue;
                }
                let mut events = Vec::new();
                for event in range["events"].as_array().into_iter().flatten() {
                    for (kind, value) in event.as_object().into_iter().flatten() {
                        if let Some(v) = value.as_str() {
                            versions.insert(v.to_owned());
                            events.push((kind.clone(), v.to_owned()));
                        }
                    }
                }
                ranges.push(events);
            }
            for v in affected["versions"].as_array().into_iter().flatten() {
                if let Some(v) = v.as_str() {
                    versions.insert(v.to_owned());
                }
            }
        }
    }
    let versions = versions
        .into_iter()
        .filter(|v| !v.is_empty() && !v.contains(char::is_whitespace))
        .collect();
    Osv { versions, ranges }
}

fn installed_debian_versions() -> Vec<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}\n"])
        .output()
        .expect("dpkg-query (Debian package dpkg) is needed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Deterministic pairs: neighbours in text order (near-equal versions), random pairs, and
/// each of a sample of versions against generated variants of itself.
fn pairs(
    corpus: &[String],
    seed: u64,
    variants: &dyn Fn(&str, &mut Rng) -> String,
) -> Vec<(String, String)> {
    let mut rng = Rng(seed);
    let sorted: Vec<&String> = corpus.iter().collect::<BTreeSet<_>>().into_iter().collect();
    let mut out = BTreeSet::new();
    while out.len() < PAIRS_PER_SCHEME {
        let i = rng.below(sorted.len() - 1);
        match out.len() % 4 {
            0 => out.insert((sorted[i].clone(), sorted[i + 1].clone())),
            1 => out.insert((sorted[i].clone(), rng.pick(&sorted).to_string())),
            2 => out.insert((sorted[i].clone(), variants(sorted[i], &mut rng))),
            _ => {
                let a = variants(sorted[i], &mut rng);
                out.insert((a, variants(sorted[i], &mut rng)))
            }
        };
    }
    out.into_iter().collect()
}

/// Runs `program` once with all pairs on stdin (one `a<TAB>b` a line) and reads one answer a
/// line: `<`, `=`, `>`, or `!` when the oracle rejects an input.
fn oracle(program: &mut Command, pairs: &[(String, String)]) -> Vec<String> {
    let mut child = program
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        answers.len(),
        pairs.len(),
        "oracle {program:?} answered {} of {} pairs",
        answers.len(),
        pairs.len()
    );
    answers
}

fn require(check: &mut Command, install: &str) {
    let ok = check
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "oracle missing: install the Debian package(s) {install} (scripts/test does)"
    );
}

fn symbol(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

/// Compares our answers with the oracle's. Pairs the oracle rejects are skipped: those we
/// reject too, and those we accept because we are more lenient (counted apart).
fn check(scheme: Scheme, pairs: &[(String, String)], answers: &[String]) {
    let (mut compared, mut both_reject, mut only_oracle_rejects) = (0, 0, Vec::new());
    let mut disagreements = Vec::new();
    for ((a, b), want) in pairs.iter().zip(answers) {
        let ours = scheme.compare(a, b).map(symbol);
        match (ours, want.as_str()) {
            (Ok(got), want) if got == want => compared += 1,
            (Err(_), "!") => both_reject += 1,
            (Ok(_), "!") => only_oracle_rejects.push(format!("{a} vs {b}")),
            (got, want) => disagreements.push(format!("{a} vs {b}: ours {got:?}, oracle {want}")),
        }
    }
    println!(
        "{scheme}: {} pairs: {compared} agree; skipped {} that both reject and {} that only the oracle rejects (e.g. {:?}); {} disagreements",
        pairs.len(),
        both_reject,
        only_oracle_rejects.len(),
        only_oracle_rejects.iter().take(3).collect::<Vec<_>>(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{scheme}: {}",
        disagreements.join("\n")
    );
    assert!(compared >= 500, "{scheme}: only {compared} pairs compared");
}

/// Hand-picked edge cases for dpkg and rpm, including some dpkg only warns about.
const TRICKY: &[&str] = &[
    "0foo~~", "0foo~", "0foo.bar", "0foobar", "1a", "1000a", "1.0000-1", "1.0-1", "2.2~rc-4",
    "2.2-1", "a1.0", "1.0_1", "1:1:1", "1.0-1-2", "1.0^", "1.0^git1", "1.0~~", "1.0~", "1.0+~",
    "00:1.0", "1.0.", "1..0", "1.0-0", "0", "0:0", "1.0a", "1.0A", "1.0-a", "1.0é", "1.0-é",
    "1.0%", "1.0-a_b", "1.0z", "1.0+",
];

/// Each tricky case against its next few neighbours in the list (random picks from the big
/// corpus would rarely reach them).
fn tricky_pairs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, a) in TRICKY.iter().enumerate() {
        for b in TRICKY.iter().skip(i + 1).take(4) {
            out.push((a.to_string(), b.to_string()));
        }
    }
    out
}

#[test]
fn dpkg_against_dpkg() {
    require(Command::new("dpkg").arg("--version"), "dpkg");
    let mut corpus = osv("debian.tar.gz").versions;
    corpus.extend(installed_debian_versions());
    let mut pairs = pairs(&corpus, 1, &|v, rng| {
        let epoch = v.split_once(':').map_or("", |(e, _)| e);
        match rng.below(9) {
            0 => format!("{v}~rc1"),
            1 => format!("{v}+b1"),
            2 => format!("{v}~"),
            3 => format!("{}:{v}", if epoch.is_empty() { "1" } else { "0" }),
            4 => v.replacen('.', ".0", 1),
            5 => format!("{v}.0"),
            6 => format!("{v}a"),
            7 => v.replace('~', "+"),
            _ => format!("{v}-0"),
        }
    });
    pairs.extend(tricky_pairs());
    // dpkg exits 0 if the relation holds, 1 if not, and 2 when it refuses an input.
    let script = r#"while IFS="$(printf '\t')" read -r a b; do
        dpkg --compare-versions "$a" lt "$b" 2>/dev/null; r=$?
        if [ $r -eq 0 ]; then echo '<'; elif [ $r -ne 1 ]; then echo '!';
        elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo '='; else echo '>'; fi
    done"#;
    let answers = oracle(Command::new("sh").args(["-c", script]), &pairs);
    check(Scheme::Dpkg, &pairs, &answers);
}

const RPM_ORACLE: &str = r#"
import sys, rpm
def evr(s):
    e, sep, rest = s.partition(':')
    if not sep or not e.isdigit():
        e, rest = '0', s
    v, sep, r = rest.rpartition('-')
    if not sep:
        v, r = rest, ''
    return (e or '0', v, r)
for line in sys.stdin:
    a, b = line.rstrip('\n').split('\t')
    print('<=>'[rpm.labelCompare(evr(a), evr(b)) + 1])
"#;

#[test]
fn rpm_against_librpm() {
    require(
        Command::new("/usr/bin/python3").args(["-c", "import rpm"]),
        "python3-rpm",
    );
    let mut corpus = osv("debian.tar.gz").versions;
    corpus.extend(osv("pypa.tar.gz").versions);
    let mut pairs = pairs(&corpus, 2, &|v, rng| match rng.below(10) {
        0 => format!("{v}~rc1"),
        1 => format!("{v}^git1"),
        2 => format!("{v}^"),
        3 => format!("{v}-1.el9"),
        4 => format!("{v}_1"),
        5 => format!("2:{v}"),
        6 => v.replacen('.', ".0", 1),
        7 => format!("{v}a"),
        8 => v.replace('.', "^"),
        _ => format!("{v}.fc40"),
    });
    pairs.extend(tricky_pairs());
    let answers = oracle(
        Command::new("/usr/bin/python3").args(["-c", RPM_ORACLE]),
        &pairs,
    );
    check(Scheme::Rpm, &pairs, &answers);
}

const PEP440_ORACLE: &str = r#"
import sys
from packaging.version import Version, InvalidVersion
for line in sys.stdin:
    a, b = line.rstrip('\n').split('\t')
    try:
        x, y = Version(a), Version(b)
        print('<' if x < y else '>' if x > y else '=')
    except InvalidVersion:
        print('!')
"#;

#[test]
fn pep440_against_packaging() {
    require(
        Command::new("/usr/bin/python3").args(["-c", "import packaging.version"]),
        "python3-packaging",
    );
    let corpus = osv("pypa.tar.gz").versions;
    let pairs = pairs(&corpus, 3, &|v, rng| match rng.below(12) {
        0 => format!("{v}.dev1"),
        1 => format!("{v}a1"),
        2 => format!("{v}b2"),
        3 => format!("{v}rc1"),
        4 => format!("{v}.post1"),
        5 => format!("{v}+local.1"),
        6 => format!("{v}-1"),
        7 => format!("1!{v}"),
        8 => format!("{v}RC1"),
        9 => format!("v{v}"),
        10 => format!("{v}.0"),
        _ => format!("{v}.post1.dev2"),
    });
    let answers = oracle(
        Command::new("/usr/bin/python3").args(["-c", PEP440_ORACLE]),
        &pairs,
    );
    check(Scheme::Pep440, &pairs, &answers);
}

const NPM_ORACLE: &str = r#"
const semver = require('semver');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(l => l.length > 0);
for (const line of lines) {
    const [a, b] = line.split('\t');
    try { console.log(['<', '=', '>'][semver.compare(a, b) + 1]); }
    catch (e) { console.log('!'); }
}
"#;

#[test]
fn semver_against_node_semver() {
    let node = || {
        let mut c = Command::new("node");
        c.env("NODE_PATH", "/usr/share/nodejs");
        c
    };
    require(
        node().args(["-e", "require('semver')"]),
        "nodejs node-semver",
    );
    let mut corpus = osv("nswg-npm.tar.gz").versions;
    corpus.extend(osv("rustsec.tar.gz").versions);
    let pairs = pairs(&corpus, 4, &|v, rng| match rng.below(8) {
        0 => format!("{v}-alpha.1"),
        1 => format!("{v}-rc.1"),
        2 => format!("{v}+build.5"),
        3 => format!("{v}-0"),
        4 => format!("{v}-beta.11"),
        5 => format!("{v}-beta.2"),
        6 => format!("v{v}"),
        _ => format!("{v}-alpha.beta"),
    });
    let answers = oracle(node().args(["-e", NPM_ORACLE]), &pairs);
    check(Scheme::Semver, &pairs, &answers);
}

#[test]
fn apk_against_apk_tools_vectors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apk-versions.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let [a, op, b] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("bad line {line:?}");
        };
        let got = Scheme::Apk.compare(a, b).map(symbol);
        let back = Scheme::Apk.compare(b, a).map(symbol);
        let want_back = match op {
            "<" => ">",
            ">" => "<",
            _ => "=",
        };
        if got.as_deref().ok() != Some(op) || back.as_deref().ok() != Some(want_back) {
            failures.push(format!("{line}: ours {got:?}, reversed {back:?}"));
        }
        count += 1;
    }
    println!(
        "apk: {count} apk-tools vectors, {} disagreements",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 500, "only {count} apk vectors");
}

/// Order laws on real versions: sorting gives a sequence where every earlier version is at
/// most every later one, equality agrees with the order, and each OSV range's events ascend.
fn order_laws(scheme: Scheme, data: &Osv, seed: u64) {
    let mut parsed: Vec<Version> = Vec::new();
    let mut rejected = Vec::new();
    for v in &data.versions {
        match scheme.parse(v) {
            Ok(p) => parsed.push(p),
            Err(_) => rejected.push(v.clone()),
        }
    }
    parsed.sort();
    let mut rng = Rng(seed);
    for _ in 0..20_000 {
        let (i, j) = (rng.below(parsed.len()), rng.below(parsed.len()));
        let (a, b) = (&parsed[i.min(j)], &parsed[i.max(j)]);
        assert_ne!(
            a.cmp(b),
            Ordering::Greater,
            "{scheme}: sorted {a} after {b}"
        );
        assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{scheme}: {a} vs {b}");
        assert_eq!(a == b, a.cmp(b).is_eq(), "{scheme}: {a} vs {b}");
    }
    for pair in parsed.windows(2) {
        assert_ne!(pair[0].cmp(&pair[1]), Ordering::Greater);
    }
    // Within a range, an `introduced` comes after the previous `fixed` and before its own.
    let mut unordered = Vec::new();
    for events in &data.ranges {
        let points: Vec<&(String, String)> = events
            .iter()
            .filter(|(kind, v)| v != "0" && (kind == "introduced" || kind == "fixed"))
            .collect();
        for w in points.windows(2) {
            let (Ok(a), Ok(b)) = (scheme.parse(&w[0].1), scheme.parse(&w[1].1)) else {
                continue;
            };
            if a >= b {
                unordered.push(format!("{}={a} !< {}={b}", w[0].0, w[1].0));
            }
        }
    }
    println!(
        "{scheme}: {} versions, {} rejected {:?}, {} ranges, {} ranges with events out of order {:?}",
        data.versions.len(),
        rejected.len(),
        rejected.iter().take(5).collect::<Vec<_>>(),
        data.ranges.len(),
        unordered.len(),
        unordered.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        rejected.len() * 100 <= data.versions.len(),
        "{scheme}: too many rejected: {rejected:?}"
    );
    assert!(unordered.is_empty(), "{scheme}: {unordered:?}");
}

#[test]
fn apk_order_laws_on_alpine_data() {
    order_laws(Scheme::Apk, &osv("alpine.tar.gz"), 5);
}

#[test]
fn go_order_laws_on_go_vulndb() {
    order_laws(Scheme::Go, &osv("go.tar.gz"), 6);
}
