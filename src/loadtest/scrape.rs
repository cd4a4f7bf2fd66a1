//! Owns reading the gateway's Prometheus endpoint (`--metrics URL`, see crate::metrics) before
//! and after a run: Graph requests (answers of every status plus transport failures), the 429s
//! among them, and the IMAP commands the gateway counted. The difference is the run's.

use super::report::GraphFigures;

/// The counters the load test reads, as the gateway last reported them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    graph_answers: u64,
    graph_429: u64,
    transport_errors: u64,
    imap_commands: u64,
}

impl Counters {
    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Counters) -> GraphFigures {
        GraphFigures {
            requests: (self.graph_answers + self.transport_errors)
                .saturating_sub(before.graph_answers + before.transport_errors),
            throttled: self.graph_429.saturating_sub(before.graph_429),
            imap_commands: self.imap_commands.saturating_sub(before.imap_commands),
        }
    }
}

/// Fetches and reads the exposition at `url`.
pub async fn scrape(url: &str) -> anyhow::Result<Counters> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let response = client.get(url).send().await?;
    if !response.status().is_success() {
        anyhow::bail!("{url} answered {}", response.status());
    }
    let text = response.text().await?;
    let counters = parse(&text);
    if counters.imap_commands == 0 && !text.contains("imap2graph_commands_total") {
        anyhow::bail!("{url} is not an imap2graph metrics endpoint (no imap2graph_commands_total)");
    }
    Ok(counters)
}

/// Sums the samples the load test needs from Prometheus text.
pub fn parse(text: &str) -> Counters {
    let mut counters = Counters::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let value = value as u64;
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        match name {
            "imap2graph_graph_responses_total" => {
                counters.graph_answers += value;
                if labels.contains("status=\"429\"") {
                    counters.graph_429 += value;
                }
            }
            "imap2graph_graph_transport_errors_total" => counters.transport_errors += value,
            "imap2graph_commands_total" => counters.imap_commands += value,
            _ => {}
        }
    }
    counters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_requests_and_429s_between_two_scrapes() {
        let before = parse(
            "# TYPE imap2graph_graph_responses_total counter\n\
             imap2graph_graph_responses_total{status=\"200\"} 10\n\
             imap2graph_commands_total{command=\"FETCH\"} 4\n",
        );
        let after = parse(
            "imap2graph_graph_responses_total{status=\"200\"} 30\n\
             imap2graph_graph_responses_total{status=\"429\"} 3\n\
             imap2graph_graph_transport_errors_total 1\n\
             imap2graph_commands_total{command=\"FETCH\"} 14\n\
             imap2graph_commands_total{command=\"NOOP\"} 10\n",
        );
        let figures = after.since(&before);
        assert_eq!(figures.requests, 24);
        assert_eq!(figures.throttled, 3);
        assert_eq!(figures.imap_commands, 20);
    }
}
