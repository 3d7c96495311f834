//! Colour only on a terminal, and progress bars only when someone watches.

use anstyle::{AnsiColor, Style as S};

#[derive(Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    pub fn new(on: bool) -> Style {
        Style { on }
    }

    fn paint(&self, style: S, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, t: &str) -> String {
        self.paint(S::new().bold(), t)
    }

    pub fn dim(&self, t: &str) -> String {
        self.paint(S::new().dimmed(), t)
    }

    pub fn warn(&self, t: &str) -> String {
        self.paint(S::new().fg_color(Some(AnsiColor::Yellow.into())), t)
    }

    pub fn alert(&self, t: &str) -> String {
        self.paint(S::new().fg_color(Some(AnsiColor::Red.into())).bold(), t)
    }

    pub fn good(&self, t: &str) -> String {
        self.paint(S::new().fg_color(Some(AnsiColor::Green.into())), t)
    }

    /// The marker shown beside anything kept in the private part.
    pub fn private(&self, is_private: bool) -> String {
        if is_private {
            format!(
                " {}",
                self.paint(
                    S::new().fg_color(Some(AnsiColor::Magenta.into())),
                    "[private]"
                )
            )
        } else {
            String::new()
        }
    }
}

/// A progress bar on stderr, or nothing when stderr is not a terminal.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn new(interactive: bool, what: &str) -> Progress {
        let bar = interactive.then(|| {
            let bar = indicatif::ProgressBar::hidden();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(what.to_string());
            bar
        });
        Progress { bar }
    }

    pub fn set(&self, done: usize, total: usize) {
        if let Some(bar) = &self.bar {
            // Small jobs finish before a bar is worth drawing.
            if total >= 50 && bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The first `n` characters of `s` (dates and times are shown cut short;
/// imported data may hold any text, so never cut inside a character).
pub fn first_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
