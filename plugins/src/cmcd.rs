//! Common Media Client Data (CTA-5004): the few keys the edge acts on, from the `CMCD`
//! query argument or the `CMCD-*` request headers.

use percent_encoding::percent_decode_str;

/// The name of the CMCD query argument; it never reaches the origin or a cache key.
pub const QUERY_PARAM: &str = "CMCD";

/// What the edge reads from CMCD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cmcd {
    /// Buffer length, milliseconds (`bl`).
    pub buffer_ms: Option<u32>,
    /// Measured throughput, kbit/s (`mtp`).
    pub throughput_kbps: Option<u32>,
}

impl Cmcd {
    /// Reads CMCD from a request's query (the `CMCD` argument) and its `CMCD-Request`
    /// header; the header wins where both carry a key.
    pub fn from_request(query: Option<&str>, request_header: Option<&str>) -> Self {
        let mut cmcd = Self::default();
        if let Some(q) = query {
            for pair in q.split('&') {
                if let Some(v) = pair.strip_prefix("CMCD=") {
                    let decoded = percent_decode_str(v).decode_utf8_lossy();
                    cmcd.read(&decoded);
                }
            }
        }
        if let Some(h) = request_header {
            cmcd.read(h);
        }
        cmcd
    }

    fn read(&mut self, payload: &str) {
        for item in payload.split(',') {
            let Some((key, value)) = item.trim().split_once('=') else {
                continue;
            };
            let number = || value.trim().parse::<u32>().ok();
            match key.trim() {
                "bl" => self.buffer_ms = number().or(self.buffer_ms),
                "mtp" => self.throughput_kbps = number().or(self.throughput_kbps),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_and_header() {
        let q = "rt=x&CMCD=bl%3D21300%2Cbr%3D3200%2Cmtp%3D25400%2Csid%3D%226e2f%22";
        let c = Cmcd::from_request(Some(q), None);
        assert_eq!(c.buffer_ms, Some(21_300));
        assert_eq!(c.throughput_kbps, Some(25_400));
        let c = Cmcd::from_request(Some(q), Some("bl=900,dl=3000"));
        assert_eq!(c.buffer_ms, Some(900), "the header wins");
        assert_eq!(Cmcd::from_request(None, None), Cmcd::default());
        let junk = Cmcd::from_request(Some("CMCD=bl%3Dabc,%%%"), Some("bl,=,x=1"));
        assert_eq!(junk, Cmcd::default());
    }
}
