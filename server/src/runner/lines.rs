//! Lines from a child's pipe, whatever bytes it writes: at most `MAX_LINE_BYTES` per
//! line (the rest of an over-long line is skipped, and the line says so), invalid UTF-8
//! replaced rather than ending the read. `BufReader::lines` would instead stop at the
//! first invalid byte, leaving the child blocked on a full pipe, and would hold a line
//! of any length in memory. Like it, `next_line` is cancel-safe (the runner polls it in
//! a `select!`): a partly read line stays in `self` until the next call finishes it.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The longest line kept whole; longer ones are cut here.
pub const MAX_LINE_BYTES: usize = 8 * 1024;

pub struct Lines<R> {
    reader: BufReader<R>,
    /// The line being read, kept across cancelled calls.
    line: Vec<u8>,
    /// Whether bytes of the current line were skipped (it was too long).
    cut: bool,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    pub fn new(inner: R) -> Self {
        Lines { reader: BufReader::new(inner), line: Vec::new(), cut: false }
    }

    /// The next line without its line ending; `None` at the end of the stream.
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            let chunk = self.reader.fill_buf().await?;
            if chunk.is_empty() {
                if self.line.is_empty() && !self.cut {
                    return Ok(None);
                }
                break;
            }
            let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            let keep = take.min(room);
            self.line.extend_from_slice(&chunk[..keep]);
            self.cut |= keep < take && !(done && keep + 1 == take);
            self.reader.consume(take);
            if done {
                break;
            }
        }
        while matches!(self.line.last(), Some(b'\n' | b'\r')) {
            self.line.pop();
        }
        let mut text = String::from_utf8_lossy(&self.line).into_owned();
        if std::mem::take(&mut self.cut) {
            text.push_str(" … [line cut at 8 KiB]");
        }
        self.line.clear();
        Ok(Some(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(bytes: &[u8]) -> Vec<String> {
        let mut lines = Lines::new(bytes);
        let mut out = Vec::new();
        while let Some(l) = lines.next_line().await.unwrap() {
            out.push(l);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_and_survives_bad_bytes() {
        assert_eq!(all(b"a\nb\r\nc").await, ["a", "b", "c"]);
        assert_eq!(all(b"x\xff\xfey\nnext\n").await, ["x\u{fffd}\u{fffd}y", "next"]);
        assert_eq!(all(b"nul\0inside\n").await, ["nul\0inside"], "NUL is the log store's to replace");
        assert!(all(b"").await.is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_read_loses_nothing() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut lines = Lines::new(rx);
        use tokio::io::AsyncWriteExt;
        tx.write_all(b"first ha").await.unwrap();
        // The read is cancelled while half a line is in.
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), lines.next_line()).await.is_err());
        tx.write_all(b"lf\nsecond\n").await.unwrap();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("first half"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("second"));
    }

    #[tokio::test]
    async fn cuts_long_lines_and_goes_on() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 3];
        input.extend_from_slice(b"\nshort\n");
        let lines = all(&input).await;
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(&"x".repeat(MAX_LINE_BYTES)));
        assert!(lines[0].ends_with("[line cut at 8 KiB]"));
        assert_eq!(lines[1], "short");
        let exact = [vec![b'y'; MAX_LINE_BYTES], b"\n".to_vec()].concat();
        assert_eq!(all(&exact).await, ["y".repeat(MAX_LINE_BYTES)], "a line of exactly the limit is whole");
    }
}
